// The spec reporter, plus a JSON file of the totals for scripts/run-tests.mjs.
const fs = require('node:fs');
const Mocha = require('mocha');

class HubReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats;
      if (process.env.HUB_TEST_STATS)
        fs.writeFileSync(process.env.HUB_TEST_STATS, JSON.stringify({ passes, failures, pending }));
    });
  }
}
module.exports = HubReporter;

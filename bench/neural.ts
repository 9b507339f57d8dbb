/**
 * Neural analysis throughput:
 * - in process: NeuralEngine over distinct texts (cache off, so every analysis
 *   is an inference): analyzeMany in calls of 1,000 (the batch endpoint's path:
 *   featurized straight into the model's inputs), analyze micro-batched
 *   (batch_max 256, concurrent callers), and analyze unbatched (batch_max 1),
 *   in the same run;
 * - over HTTP: POST /api/neural/analyze on a hub process (autocannon, 64
 *   connections), with distinct texts (inference) and with one repeated text
 *   (the cache), against GET /health on the same hub as the edge's own ceiling.
 *
 *   npx tsx bench/neural.ts [--n 100000] [--runs 3] [--seconds 5]
 */
import autocannon from 'autocannon';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/log/logger.js';
import { MODELS_DIR } from '../src/neural/dataset.js';
import { NeuralEngine } from '../src/neural/engine.js';
import { arg, emit } from './lib/cli.js';
import { startHubProcess } from './lib/hub-process.js';
import { median } from './lib/pg.js';

const n = Number(arg('n', '100000'));
const runs = Number(arg('runs', '3'));
const seconds = Number(arg('seconds', '5'));
const log = createLogger({ level: 'error', nodeId: 'bench' });

const WORDS =
  'fix deploy translate analyse report server database invoice customer summary german french latency cluster model chart revenue prove integral outage backup certificate email draft review'.split(
    ' ',
  );

function text(i: number): string {
  const w = (k: number): string => WORDS[(i * 7 + k * 13 + (i >> k)) % WORDS.length]!;
  return `Task ${i}: ${w(1)} the ${w(2)} ${w(3)} and ${w(4)} the ${w(5)} for the ${w(6)} team`;
}

/** Analyses/s of `count` distinct texts: `inFlight` analyze calls at a time, or analyzeMany in calls of 1,000 (`many`). */
async function inProcess(batchMax: number, count: number, many = false): Promise<number> {
  const config = loadConfig({
    env: {
      HIVE_ENV: 'test',
      HIVE_NEURAL_CACHE_SIZE: '0',
      HIVE_NEURAL_BATCH_MAX: String(batchMax),
      HIVE_NEURAL_BATCH_WAIT_MS: batchMax === 1 ? '0' : '1',
    },
  });
  const engine = await NeuralEngine.open({ config, modelsDir: MODELS_DIR, log });
  // Warm up (JIT, the word table) on texts not measured, by the path measured.
  const warm = Array.from({ length: 20_000 }, (_, i) => text(-1 - i));
  if (many) for (let i = 0; i < warm.length; i += 1000) await engine.analyzeMany(warm.slice(i, i + 1000));
  else await Promise.all(warm.map((t) => engine.analyze(t)));
  const inFlight = 4096;
  const texts = Array.from({ length: count }, (_, i) => text(i));
  const t0 = performance.now();
  let next = 0;
  if (many) for (let i = 0; i < count; i += 1000) await engine.analyzeMany(texts.slice(i, i + 1000));
  else
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < count) await engine.analyze(texts[next++]!);
      }),
    );
  const rate = Math.round(count / ((performance.now() - t0) / 1000));
  await engine.close();
  return rate;
}

async function overHttp(port: number, mode: 'distinct' | 'cached' | 'health'): Promise<number> {
  let i = 0;
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 64,
    pipelining: 1,
    duration: seconds,
    requests: [
      mode === 'health'
        ? { method: 'GET', path: '/health' }
        : {
            method: 'POST',
            path: '/api/neural/analyze',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => ({
              ...req,
              body: JSON.stringify({ text: mode === 'cached' ? 'Translate the user manual into German' : text(i++) }),
            }),
          },
    ],
  });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${mode}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return Math.round(r.requests.average);
}

const many: number[] = [];
const batched: number[] = [];
const unbatched: number[] = [];
const http: Record<'distinct' | 'cached' | 'health', number[]> = { distinct: [], cached: [], health: [] };
for (let r = 0; r < runs; r++) {
  many.push(await inProcess(256, n, true));
  batched.push(await inProcess(256, n));
  unbatched.push(await inProcess(1, Math.max(5000, Math.round(n / 10))));
  const hub = await startHubProcess({
    HIVE_SERVER_HOST: '127.0.0.1',
    HIVE_DATABASE_DATA_DIR: ':memory:',
    HIVE_NEURAL_CACHE_SIZE: '100000',
  });
  for (const mode of ['distinct', 'cached', 'health'] as const) http[mode].push(await overHttp(hub.httpPort, mode));
  await hub.stop();
  process.stderr.write(
    `run ${r + 1}/${runs}: in process many ${many[r]}/s, micro-batched ${batched[r]}/s, unbatched ${unbatched[r]}/s; HTTP distinct ${http.distinct[r]}/s, cached ${http.cached[r]}/s, /health ${http.health[r]}/s\n`,
  );
}
emit('neural', {
  n,
  runs,
  http_seconds: seconds,
  analyses_per_s: { in_process_many: many, in_process_batched: batched, in_process_unbatched: unbatched },
  http_requests_per_s: http,
  median: {
    in_process_many: median(many),
    many_vs_unbatched: Math.round((median(many) / median(unbatched)) * 100) / 100,
    in_process_batched: median(batched),
    in_process_unbatched: median(unbatched),
    batched_vs_unbatched: Math.round((median(batched) / median(unbatched)) * 100) / 100,
    http_distinct: median(http.distinct),
    http_cached: median(http.cached),
    http_health: median(http.health),
  },
  targets: { in_process_per_s: 200_000, http_per_s: 20_000 },
});
process.exit(0);

import net from 'node:net';
import { execSync } from 'node:child_process';
import { securedHub } from '/work/main/test/helpers/faults.js';
describe('probe', function () {
  this.timeout(60000);
  it('x', async () => {
    const h = await securedHub('probe-');
    const port = h.hub.port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise((r) => setTimeout(r, 500));
    await h.hub.stop('SIGKILL');
    console.log(execSync(`ss -tanp | grep ${port} || true`).toString());
    for (let i = 0; i < 10; i++) {
      const r = await new Promise((res) => {
        const s = net.createServer();
        s.once('error', (e: any) => res(e.code));
        s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => res('ok')));
      });
      console.log(i, r);
      if (r === 'ok') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    ws.close();
  });
});

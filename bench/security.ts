/**
 * What authentication costs the HTTP edge: GET /api/agents (autocannon, 64
 * connections) on a hub with security off, and on one with security on, with
 * an API key and with a bearer access token, in the same run.
 *
 *   npx tsx bench/security.ts [--runs 3] [--seconds 5]
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arg, emit } from './lib/cli.js';
import { startHubProcess } from './lib/hub-process.js';
import { median } from './lib/pg.js';

const runs = Number(arg('runs', '3'));
const seconds = Number(arg('seconds', '5'));

async function rate(port: number, headers: Record<string, string>): Promise<number> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/api/agents`,
    connections: 64,
    duration: seconds,
    headers,
  });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return Math.round(r.requests.average);
}

const out: Record<'off' | 'api_key' | 'bearer_token', number[]> = { off: [], api_key: [], bearer_token: [] };
for (let r = 0; r < runs; r++) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hub-bench-security-'));
  const off = await startHubProcess({ HIVE_SERVER_HOST: '127.0.0.1', HIVE_DATABASE_DATA_DIR: path.join(dir, 'off') });
  out.off.push(await rate(off.httpPort, {}));
  await off.stop();
  const on = await startHubProcess({
    HIVE_SERVER_HOST: '127.0.0.1',
    HIVE_DATABASE_DATA_DIR: path.join(dir, 'on'),
    HIVE_SECURITY_ENABLED: 'true',
    HIVE_SECURITY_JWT_SECRET: 'b'.repeat(64),
    HIVE_SECURITY_ADMIN_PASSWORD: 'bench admin password',
  });
  const base = `http://127.0.0.1:${on.httpPort}`;
  const login = (await (
    await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'bench admin password' }),
    })
  ).json()) as { data: { access_token: string } };
  const token = login.data.access_token;
  const key = (
    (await (
      await fetch(`${base}/api/auth/keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ name: 'bench', role: 'viewer' }),
      })
    ).json()) as { data: { key: string } }
  ).data.key;
  out.api_key.push(await rate(on.httpPort, { 'x-api-key': key }));
  out.bearer_token.push(await rate(on.httpPort, { authorization: `Bearer ${token}` }));
  await on.stop();
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write(
    `run ${r + 1}/${runs}: off ${out.off[r]}/s, API key ${out.api_key[r]}/s, bearer token ${out.bearer_token[r]}/s\n`,
  );
}
emit('security', {
  runs,
  seconds,
  requests_per_s: out,
  median: {
    off: median(out.off),
    api_key: median(out.api_key),
    bearer_token: median(out.bearer_token),
    api_key_vs_off: Math.round((median(out.api_key) / median(out.off)) * 100) / 100,
    bearer_vs_off: Math.round((median(out.bearer_token) / median(out.off)) * 100) / 100,
  },
});
process.exit(0);

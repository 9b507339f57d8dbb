/** Remote agents' lifecycle under churn: reconnects without a token take over the old record; offline agents hold no slot and expire. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAgent } from '../../src/grpc/client/index.js';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';

describe('faults: agent reconnect churn', function () {
  this.timeout(90_000);
  let tmp: string;
  let hub: RunningHub;
  let api: Client;
  let address: string;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-churn-'));
    hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '2',
        HIVE_AGENTS_MAX_AGENTS: '10',
        HIVE_GRPC_AGENT_GRACE_MS: '30000',
        HIVE_AGENTS_OFFLINE_RETENTION_SECONDS: '2',
      }),
    );
    api = client(hub.port);
    address = `127.0.0.1:${/"grpc_port":(\d+)/.exec(hub.output())?.[1]}`;
  });
  after(async () => {
    if (hub !== undefined) await hub.stop();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  async function agentsNamed(name: string): Promise<Array<{ id: string; state: string }>> {
    return (
      (await api.get('/api/agents?limit=100')).body.data.agents as Array<{ id: string; name: string; state: string }>
    ).filter((a) => a.name === name);
  }

  it('keeps one record for an agent that reconnects 12 times without its resume token; max_agents never fills', async () => {
    let firstId: string | undefined;
    for (let i = 0; i < 12; i++) {
      const a = runAgent(() => ({ ok: true }), {
        address,
        name: 'churner',
        capabilities: [{ name: 'churn', proficiency: 1 }],
        reconnectMs: 60_000,
      });
      const id = await a.registered;
      firstId ??= id;
      assert.equal(id, firstId, `session ${i} took over the same record`);
      a.disconnect(); // broken, not drained: the hub keeps it for the grace
      await waitFor(async () => (await agentsNamed('churner')).length === 1, 5000, 'one churner record');
    }
    const created = await api.post('/api/agents', {
      name: 'operator-made',
      capabilities: [{ name: 'x', proficiency: 1 }],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });

  it('does not count offline agents toward max_agents, and removes them after the retention', async () => {
    for (let i = 0; i < 12; i++) {
      const a = runAgent(() => ({ ok: true }), {
        address,
        name: `visitor-${i}`,
        capabilities: [{ name: 'visit', proficiency: 1 }],
      });
      await a.registered;
      await a.stop(); // drained and ended: offline at once
    }
    await waitFor(
      async () =>
        (await agentsNamed('visitor-11'))[0]?.state === 'offline' || (await agentsNamed('visitor-11')).length === 0,
      5000,
      'the last visitor offline',
    );
    const created = await api.post('/api/agents', {
      name: 'still-room',
      capabilities: [{ name: 'x', proficiency: 1 }],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await waitFor(
      async () =>
        ((await api.get('/api/agents?limit=100')).body.data.agents as Array<{ name: string }>).every(
          (a) => !a.name.startsWith('visitor-'),
        ),
      15_000,
      'offline visitors removed after the retention',
    );
  });
});

/** Races on credentials and keys: concurrent refresh-token reuse, and the idempotency namespaces of single and bulk submissions. */
import assert from 'node:assert/strict';
import { client, type Client } from '../helpers/http.js';
import { SECURED_ADMIN_PASSWORD, securedHub } from '../helpers/faults.js';

describe('faults: auth and idempotency races', function () {
  this.timeout(60_000);
  let secured: Awaited<ReturnType<typeof securedHub>>;
  let api: Client;
  let admin: Record<string, string>;

  before(async () => {
    secured = await securedHub('hub-races-', { HIVE_SECURITY_RATE_LIMIT_PER_SECOND: '0' });
    api = client(secured.hub.port);
    admin = secured.admin;
  });
  after(async () => secured?.close());

  it("lets one of two concurrent uses of a refresh token win, and the reuse revokes the winner's new token too (10 races)", async () => {
    for (let race = 0; race < 10; race++) {
      const login = await api.post('/auth/login', { username: 'admin', password: SECURED_ADMIN_PASSWORD });
      const token = login.body.data.refresh_token as string;
      const [a, b] = await Promise.all([
        api.post('/auth/refresh', { refresh_token: token }),
        api.post('/auth/refresh', { refresh_token: token }),
      ]);
      const winners = [a, b].filter((r) => r.status === 200);
      assert.ok(winners.length <= 1, `race ${race}: ${a.status} and ${b.status}`);
      assert.ok(
        [a, b].some((r) => r.status === 401),
        `race ${race}: one use is refused`,
      );
      for (const w of winners) {
        const again = await api.post('/auth/refresh', { refresh_token: w.body.data.refresh_token });
        assert.equal(again.status, 401, `race ${race}: the winner's new refresh token is revoked with its family`);
      }
    }
  });

  it('keeps single-submit keys apart from bulk items: K:0 is its own task, and "bulk:" keys are reserved', async () => {
    const bulk = await api.post(
      '/api/tasks/bulk',
      { tasks: [{ title: 'item 0' }, { title: 'item 1' }] },
      { ...admin, 'idempotency-key': 'K' },
    );
    assert.equal(bulk.status, 201);
    const single = await api.post('/api/tasks', { title: 'a single one' }, { ...admin, 'idempotency-key': 'K:0' });
    assert.equal(single.status, 201, 'a new task, not the bulk item');
    const items = bulk.body.data.tasks as Array<{ id: string }>;
    assert.ok(items.every((t) => t.id !== single.body.data.id));
    const reserved = await api.post('/api/tasks', { title: 'sneaky' }, { ...admin, 'idempotency-key': 'bulk:K:0' });
    assert.equal(reserved.status, 400);
    assert.equal(reserved.body.error.details.field, 'Idempotency-Key');
    const again = await api.post(
      '/api/tasks/bulk',
      { tasks: [{ title: 'item 0' }, { title: 'item 1' }] },
      { ...admin, 'idempotency-key': 'K' },
    );
    assert.deepEqual(
      (again.body.data.tasks as Array<{ id: string }>).map((t) => t.id),
      items.map((t) => t.id),
      'a bulk retry with the same key returns the same items',
    );
  });
});

/**
 * The hub's own array literals (src/storage/postgres/pg-array.ts) read back by
 * PostgreSQL as the values sent: quotes, backslashes, commas, braces, the word
 * NULL, empty strings, unicode and null elements; jsonb, uuid, timestamptz and
 * integer columns as the batch statements send them.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { encodeArrays, pgArrayLiteral } from '../../src/storage/postgres/pg-array.js';
import { PG_ADMIN_URL, requirePostgres } from '../helpers/postgres.js';

describe('PostgreSQL array literals', function () {
  this.timeout(20_000);
  let client: pg.Client;
  before(async function () {
    await requirePostgres(this);
    client = new pg.Client({ connectionString: PG_ADMIN_URL });
    await client.connect();
  });
  after(async () => client?.end());

  const roundTrip = async (cast: string, values: unknown[]): Promise<unknown[]> =>
    ((await client.query(`SELECT $1::${cast} AS a`, [pgArrayLiteral(values)])).rows[0] as { a: unknown[] }).a;

  it('reads back every awkward text as sent', async () => {
    const texts = [
      'plain',
      '',
      'NULL',
      'null',
      'Null',
      'x-y.z:1',
      'a,b',
      '{x}',
      'say "hi"',
      'back\\slash',
      '\\"',
      ' pad ',
      'naïve ☃',
      'line\nbreak',
      null,
    ];
    assert.deepEqual(await roundTrip('text[]', texts), texts);
  });

  it('reads back jsonb, uuid, timestamptz and integers', async () => {
    const docs = [JSON.stringify({ q: 'a "quoted" \\ value', n: [1, 2] }), 'null', null, JSON.stringify('x')];
    assert.deepEqual(await roundTrip('jsonb[]', docs), [{ q: 'a "quoted" \\ value', n: [1, 2] }, null, null, 'x']);
    const ids = ['4b0c6a3e-2a8f-4d2b-9a51-1f3b8c9d0e7a', '00000000-0000-0000-0000-000000000000'];
    assert.deepEqual(await roundTrip('uuid[]', ids), ids);
    const at = new Date('2026-12-04T10:11:12.345Z');
    const times = (await roundTrip('timestamptz[]', [at.toISOString(), at, null])) as Array<Date | null>;
    assert.deepEqual(
      times.map((t) => t?.toISOString() ?? null),
      [at.toISOString(), at.toISOString(), null],
    );
    assert.deepEqual(await roundTrip('int[]', [1, -2, null, 3]), [1, -2, null, 3]);
    assert.deepEqual(await roundTrip('text[]', [{ a: 1 }, true, 7n]), ['{"a":1}', 'true', '7']);
  });

  it('encodes only the array parameters, and leaves a list without one as it is', () => {
    const plain = ['a', 1, null];
    assert.equal(encodeArrays(plain), plain);
    assert.deepEqual(encodeArrays(['a', ['x', null], 2]), ['a', '{x,NULL}', 2]);
  });
});

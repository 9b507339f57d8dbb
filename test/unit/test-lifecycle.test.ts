/**
 * One lifecycle: every operation's move is a transition of TRANSITIONS, every
 * transition is some operation's move, every status write in the code goes
 * through an operation, and the stores refuse a move outside them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import {
  OPERATIONS,
  allTransitions,
  canTransition,
  checkRecordedMove,
  operationMoves,
} from '../../src/domain/index.js';
import { createOne, newTask } from '../helpers/tasks.js';
import { ROOT } from '../helpers/cli.js';

/** Where the lifecycle is written: the only files that may spell a status write out. */
const LIFECYCLE_FILES = new Set(['src/domain/lifecycle.ts', 'src/storage/sql/lifecycle-sql.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/**
 * The status writes of one source file that do not go through a lifecycle
 * operation: in every SQL text that updates or inserts tasks, a status spelled
 * out (`status = 'pending'`, `status IN ('assigned', ...)`), a status from a
 * parameter without the operation's guard, or an insert whose status does not
 * come from initialStatus().
 */
export function stray(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/`([^`]*)`/g)) {
    const sql = m[1] ?? '';
    const updates = /UPDATE tasks\b/.test(sql);
    if (!updates && !/INSERT INTO tasks\b/.test(sql)) continue;
    const line = sql.replace(/\s+/g, ' ').slice(0, 100);
    if (/(?<!u\.)\bstatus\s*(=|IN)\s*\(?\s*'/.test(sql) || /THEN '(pending|assigned)'/.test(sql))
      out.push(`spelled out: ${line}`);
    if (updates && /\bstatus = (\?|u\.status)/.test(sql) && !/\$\{finishGuard\(/.test(sql))
      out.push(`a parameter without the guard: ${line}`);
    if (updates && /\$\{sets\.join/.test(sql) && !/const op = OPERATIONS\[tr\.op\]/.test(source))
      out.push(`a transition not by operation: ${line}`);
    if (!updates && !/initialStatus\(/.test(source)) out.push(`an insert without initialStatus(): ${line}`);
  }
  return out;
}

describe('one lifecycle', () => {
  it("every operation's move is a transition, and every transition is some operation's move", () => {
    for (const m of operationMoves()) assert.ok(canTransition(m.from, m.to), `${m.op}: ${m.from} -> ${m.to}`);
    const moved = new Set(operationMoves().map((m) => `${m.from}->${m.to}`));
    for (const t of allTransitions())
      assert.ok(moved.has(`${t.from}->${t.to}`), `${t.from} -> ${t.to} has no operation`);
    assert.ok(Object.keys(OPERATIONS).length >= 10);
  });

  it('every status write in the code goes through an operation', () => {
    const files = ['src', 'actors', 'cluster'].flatMap(sourceFiles).filter((f) => !LIFECYCLE_FILES.has(f));
    assert.ok(files.length > 100, `scanned ${files.length} files`);
    const found = files.flatMap((f) => stray(readFileSync(path.join(ROOT, f), 'utf8')).map((s) => `${f}: ${s}`));
    assert.deepEqual(found, []);
    // The scan finds what it looks for.
    assert.equal(stray("x = `UPDATE tasks SET status = 'pending' WHERE id = ?`").length, 1);
    assert.equal(stray("x = `UPDATE tasks SET a = 1 WHERE status IN ('assigned', 'running')`").length, 1);
    assert.equal(stray('x = `UPDATE tasks t SET status = u.status FROM unnest(?) AS u(id)`').length, 1);
    assert.equal(stray("x = `UPDATE agents SET state = 'offline'`").length, 0);
  });

  it('a store refuses a move outside the operation, and writes nothing', async () => {
    const store = openSqliteStore(':memory:');
    await store.migrate();
    try {
      const { task } = await createOne(store, newTask({ timeout_ms: 1000 }), 'n');
      assert.equal((await store.transitionTask(task.id, { op: 'cancel', nodeId: 'n' }))?.status, 'cancelled');
      // cancelled is terminal: no operation moves it (a redrive is from failed or dead only).
      assert.equal(await store.transitionTask(task.id, { op: 'redrive', nodeId: 'n' }), undefined);
      // `only` narrows an operation's sources; it cannot widen them.
      const other = await createOne(store, newTask(), 'n');
      assert.equal(
        await store.transitionTask(other.task.id, { op: 'claim', only: ['cancelled'], nodeId: 'n' }),
        undefined,
      );
      assert.equal((await store.getTask(task.id))?.status, 'cancelled');
      assert.equal((await store.getTask(other.task.id))?.status, 'pending');
      assert.deepEqual(
        (await store.listTaskEvents(task.id)).map((e) => [e.from_status, e.to_status]),
        [['pending', 'cancelled']],
      );
    } finally {
      await store.close();
    }
  });

  it("a recorded move outside the lifecycle is the hub's bug (INTERNAL)", () => {
    assert.throws(
      () => checkRecordedMove('x', 'completed', 'running'),
      (err: Error & { code?: string }) =>
        err.code === 'INTERNAL' && /completed -> running is not a transition/.test(err.message),
    );
    assert.doesNotThrow(() => checkRecordedMove('x', 'running', 'pending'));
  });
});

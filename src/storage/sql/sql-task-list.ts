/** The task list's filters and orders (GET /api/tasks, the dashboard's task table), one statement for both engines. */
import { isUuid, Where } from './sql-base.js';
import type { Dialect } from './executor.js';
import type { TaskFilter, TaskSort } from '../store.js';

/** A LIKE pattern that matches `text` literally anywhere (% and _ escaped with \). */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function taskWhere(d: Dialect, f: TaskFilter): Where {
  const w = new Where();
  if (f.status !== undefined) w.add('status = ?', f.status);
  if (f.priority !== undefined) w.add('priority = ?', f.priority);
  if (f.agent !== undefined) w.add('assigned_agent = ?', isUuid(f.agent) ? f.agent : null);
  if (f.capability !== undefined)
    w.add(d.jsonArrayHasName('required_capabilities'), d.jsonArrayHasNameParam(f.capability));
  if (f.concurrency_key !== undefined) w.add(`NOT ${d.noKeyIn('concurrency_keys')}`, d.keysParam([f.concurrency_key]));
  if (f.fairness_key !== undefined) w.add('fairness_key = ?', f.fairness_key);
  if (f.error_code !== undefined) w.add(`${d.jsonText('error', 'code')} = ?`, f.error_code);
  if (f.text !== undefined) w.add(`lower(title) LIKE ? ESCAPE '\\'`, containsPattern(f.text));
  if (f.created_after !== undefined) w.add('created_at >= ?', f.created_after);
  if (f.created_before !== undefined) w.add('created_at < ?', f.created_before);
  return w;
}

const SORT_SQL: Record<TaskSort, string> = {
  created_at: 'created_at',
  updated_at: 'updated_at',
  // The submitted priority, highest first when descending (priority_rank also counts aging).
  priority: `CASE priority WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'medium' THEN 1 ELSE 0 END`,
  status: 'status',
  title: 'title',
};

/** ORDER BY for a page: the sort column, then insertion order as the tie-break so pages never overlap. */
export function taskOrder(d: Dialect, f: TaskFilter): string {
  const dir = f.order === 'desc' ? ' DESC' : '';
  const column = SORT_SQL[f.sort ?? 'created_at'];
  const tie = f.sort === undefined || f.sort === 'created_at' ? '' : `, created_at${dir}`;
  return `${column}${dir}${tie}, ${d.insertOrder}${dir}`;
}

/** The task as the API answers it, and the filters of the task list (kept in the page's query). */
export interface Task {
  id: string;
  title: string;
  description?: string;
  type: string;
  status: string;
  priority: string;
  required_capabilities: Array<{ name: string; min_proficiency?: number }>;
  assigned_agent: string | null;
  payload?: unknown;
  result?: unknown;
  error?: { code?: string; message?: string } | null;
  attempts: number;
  max_attempts: number;
  created_at: string;
  updated_at: string;
  started_at?: string | null;
  completed_at?: string | null;
  run_at?: string | null;
  fairness_key?: string;
  concurrency_keys?: string[] | null;
  parent_id?: string | null;
  wait_for?: { kind: string; signal?: string; children?: string; timeout_ms?: number | null } | null;
  wake_at?: string | null;
  checkpoint?: unknown;
  progress?: { percent?: number | null; message?: string | null; at?: string } | null;
  schedule_id?: string | null;
  node_id?: string | null;
}

export interface TaskPage {
  tasks: Task[];
  total: number;
  limit: number;
  offset: number;
}

export const STATUSES = ['pending', 'assigned', 'running', 'waiting', 'completed', 'failed', 'dead', 'cancelled'];
export const PRIORITIES = ['critical', 'high', 'medium', 'low'];
export const SORTS = ['created_at', 'updated_at', 'priority', 'status', 'title'] as const;
export const FILTER_KEYS = [
  'status',
  'priority',
  'capability',
  'agent',
  'concurrency_key',
  'tenant',
  'q',
  'since',
  'until',
] as const;
export type Filters = Partial<Record<(typeof FILTER_KEYS)[number] | 'sort' | 'order' | 'offset', string>>;

export function filtersFrom(query: URLSearchParams): Filters {
  const f: Filters = {};
  for (const k of [...FILTER_KEYS, 'sort', 'order', 'offset'] as const) {
    const v = query.get(k);
    if (v !== null && v !== '') f[k] = v;
  }
  return f;
}

/** The GET /api/tasks query for these filters (datetime-local values become ISO instants in the viewer's zone). */
export function listQuery(f: Filters, limit: number): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) {
    if (v === undefined || v === '') continue;
    q.set(k, k === 'since' || k === 'until' ? new Date(v).toISOString() : v);
  }
  q.set('limit', String(limit));
  if (!q.has('order')) q.set('order', 'desc');
  return q.toString();
}

/** Whether the task can be acted on: cancel (not ended), retry (failed or dead). */
export const ENDED = new Set(['completed', 'failed', 'dead', 'cancelled']);
export function retryable(t: Pick<Task, 'status'>): boolean {
  return t.status === 'failed' || t.status === 'dead';
}

/** What a waiting task waits for, in words, and whether it is an approval. */
export function waitingFor(t: Task): { text: string; approval: boolean; signal: string | undefined } | undefined {
  const w = t.wait_for;
  if (t.status !== 'waiting' || w === null || w === undefined) return undefined;
  if (w.kind === 'signal')
    return {
      text: w.signal === 'approval' ? 'an approval' : `the signal "${w.signal ?? ''}"`,
      approval: w.signal === 'approval',
      signal: w.signal,
    };
  if (w.kind === 'children')
    return { text: `its children (${w.children ?? 'all'})`, approval: false, signal: undefined };
  return { text: `a timer (${t.wake_at ?? 'soon'})`, approval: false, signal: undefined };
}

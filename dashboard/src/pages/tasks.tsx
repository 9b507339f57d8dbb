/**
 * Tasks: a filtered, sorted, server-side paged list (stays fast with 100,000
 * tasks: the hub pages, the page renders 50 rows). Rows change live; new tasks
 * reload the first page (at most once a second). Bulk cancel, retry and redrive.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api';
import { ago, shortId, when } from '../format';
import { can } from '../grants';
import { useLive } from '../live';
import { Link, setQuery, useLocation } from '../router';
import type { FILTER_KEYS } from '../tasks-model';
import {
  ENDED,
  PRIORITIES,
  STATUSES,
  filtersFrom,
  listQuery,
  retryable,
  type Filters,
  type Task,
  type TaskPage,
} from '../tasks-model';
import { Action, Badge, ErrorBox, useLoad, useThrottle } from '../ui';

const LIMIT = 50;

function FilterBar(props: { filters: Filters; set: (f: Filters) => void }): JSX.Element {
  const [draft, setDraft] = useState<Filters>(props.filters);
  const field = (k: (typeof FILTER_KEYS)[number], label: string, type = 'text'): JSX.Element => (
    <label>
      {label}
      <input
        name={k}
        type={type}
        value={draft[k] ?? ''}
        onInput={(e) => setDraft({ ...draft, [k]: e.currentTarget.value })}
      />
    </label>
  );
  const select = (k: 'status' | 'priority', values: string[]): JSX.Element => (
    <label>
      {k}
      <select name={k} value={draft[k] ?? ''} onChange={(e) => setDraft({ ...draft, [k]: e.currentTarget.value })}>
        <option value="">any</option>
        {values.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    </label>
  );
  const apply = (e: Event): void => {
    e.preventDefault();
    props.set({ ...draft, offset: undefined, sort: props.filters.sort, order: props.filters.order });
  };
  return (
    <form class="filters" onSubmit={apply} aria-label="Filters">
      {field('q', 'title contains', 'search')}
      {select('status', STATUSES)}
      {select('priority', PRIORITIES)}
      {field('capability', 'capability')}
      {field('agent', 'agent id')}
      {field('concurrency_key', 'key')}
      {field('tenant', 'tenant')}
      {field('since', 'created from', 'datetime-local')}
      {field('until', 'created before', 'datetime-local')}
      <button type="submit" class="primary">
        Apply
      </button>
      <button type="button" onClick={() => (setDraft({}), props.set({}))}>
        Clear
      </button>
    </form>
  );
}

function SortHeader(props: {
  column: string;
  label: string;
  filters: Filters;
  set: (f: Filters) => void;
}): JSX.Element {
  const active = (props.filters.sort ?? 'created_at') === props.column;
  const desc = (props.filters.order ?? 'desc') === 'desc';
  const next = (): void =>
    props.set({ ...props.filters, sort: props.column, order: active && desc ? 'asc' : 'desc', offset: undefined });
  return (
    <th scope="col" aria-sort={active ? (desc ? 'descending' : 'ascending') : 'none'}>
      <button type="button" class="link" onClick={next}>
        {props.label}
        {active ? (desc ? ' ▼' : ' ▲') : ''}
      </button>
    </th>
  );
}

function Bulk(props: { selected: Task[]; done: () => void }): JSX.Element | null {
  if (!can('tasks.write') || props.selected.length === 0) return null;
  const open = props.selected.filter((t) => !ENDED.has(t.status));
  const dead = props.selected.filter((t) => t.status === 'dead').map((t) => t.id);
  const failed = props.selected.filter((t) => t.status === 'failed').map((t) => t.id);
  const redrive = async (): Promise<void> => {
    if (dead.length > 0) await api.post('/api/tasks/redrive', { status: 'dead', ids: dead });
    if (failed.length > 0) await api.post('/api/tasks/redrive', { status: 'failed', ids: failed });
  };
  return (
    <div class="bulk" role="region" aria-label="Bulk actions">
      {props.selected.length} selected:
      <Action
        label={`Cancel ${open.length}`}
        disabled={open.length === 0}
        kind="danger"
        confirm={`Cancel ${open.length} tasks?`}
        run={() =>
          Promise.all(
            open.map((t) => api.post(`/api/tasks/${t.id}/cancel`, { reason: 'cancelled from the dashboard' })),
          )
        }
        done={props.done}
      />
      <Action
        label={`Redrive ${dead.length + failed.length}`}
        disabled={dead.length + failed.length === 0}
        run={redrive}
        done={props.done}
      />
    </div>
  );
}

function Row(props: { t: Task; checked: boolean; toggle: () => void }): JSX.Element {
  const t = props.t;
  return (
    <tr data-task={t.id}>
      <td>
        <input type="checkbox" checked={props.checked} onChange={props.toggle} aria-label={`select ${t.title}`} />
      </td>
      <td>
        <Link to={`/tasks/${t.id}`}>{shortId(t.id)}</Link>
      </td>
      <td class="wrap">{t.title}</td>
      <td data-testid="status">
        <Badge value={t.status} />
      </td>
      <td>{t.priority}</td>
      <td>{t.required_capabilities.map((c) => c.name).join(', ') || '–'}</td>
      <td>{shortId(t.assigned_agent)}</td>
      <td>{t.fairness_key || '–'}</td>
      <td>{(t.concurrency_keys ?? []).join(', ') || '–'}</td>
      <td>
        {t.attempts}/{t.max_attempts}
      </td>
      <td title={when(t.created_at)}>{when(t.created_at)}</td>
      <td title={when(t.updated_at)}>{ago(t.updated_at)}</td>
      <td>
        {retryable(t) && can('tasks.write') ? (
          <Action label="Retry" run={() => api.post(`/api/tasks/${t.id}/retry`)} />
        ) : null}
      </td>
    </tr>
  );
}

function Table(props: {
  list: Task[];
  selected: Set<string>;
  setSelected: (s: Set<string>) => void;
  toggle: (id: string) => void;
  header: { filters: Filters; set: (f: Filters) => void };
}): JSX.Element {
  const { list, selected, setSelected, toggle, header } = props;
  return (
    <div class="scroll">
      <table class="tasks">
        <thead>
          <tr>
            <th scope="col">
              <input
                type="checkbox"
                aria-label="select all"
                checked={list.length > 0 && selected.size === list.length}
                onChange={() => setSelected(selected.size === list.length ? new Set() : new Set(list.map((t) => t.id)))}
              />
            </th>
            <th scope="col">id</th>
            <SortHeader column="title" label="title" {...header} />
            <SortHeader column="status" label="status" {...header} />
            <SortHeader column="priority" label="priority" {...header} />
            <th scope="col">capabilities</th>
            <th scope="col">agent</th>
            <th scope="col">tenant</th>
            <th scope="col">keys</th>
            <th scope="col">attempts</th>
            <SortHeader column="created_at" label="created" {...header} />
            <SortHeader column="updated_at" label="updated" {...header} />
            <th scope="col">actions</th>
          </tr>
        </thead>
        <tbody>
          {list.map((t) => (
            <Row key={t.id} t={t} checked={selected.has(t.id)} toggle={() => toggle(t.id)} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Pager(props: { offset: number; total: number; go: (offset: number) => void }): JSX.Element {
  const { offset, total } = props;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={offset === 0} onClick={() => props.go(Math.max(0, offset - LIMIT))}>
        Previous
      </button>
      <span>
        {total === 0 ? 0 : offset + 1}–{Math.min(total, offset + LIMIT)} of {total}
      </span>
      <button type="button" disabled={offset + LIMIT >= total} onClick={() => props.go(offset + LIMIT)}>
        Next
      </button>
    </nav>
  );
}

export function Tasks(): JSX.Element {
  const { query } = useLocation();
  const [filters, setFilters] = useState<Filters>(() => filtersFrom(query));
  const [rows, setRows] = useState<Map<string, Task>>(new Map());
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const page = useLoad(async () => {
    const started = performance.now();
    const p = await api.get<TaskPage>(`/api/tasks?${listQuery(filters, LIMIT)}`);
    setRows(new Map(p.tasks.map((t) => [t.id, t])));
    return { ...p, ms: Math.round(performance.now() - started) };
  }, [JSON.stringify(filters)]);
  const set = (f: Filters): void => {
    setFilters(f);
    setSelected(new Set());
    setQuery(f);
  };
  const reloadFirst = useThrottle(page.reload, 1000);
  useLive(['task.'], (e) => {
    const t = e.data as unknown as Task;
    if (typeof t.id !== 'string' || typeof t.status !== 'string') return;
    if (rows.has(t.id)) setRows((m) => new Map(m).set(t.id, { ...m.get(t.id)!, ...t }));
    else if (e.type === 'task.created' && (filters.offset ?? '0') === '0') reloadFirst();
  });
  const offset = Number(filters.offset ?? 0);
  const total = page.data?.total ?? 0;
  const list = [...rows.values()];
  const toggle = (id: string): void =>
    setSelected((s) => (s.has(id) ? (s.delete(id), new Set(s)) : new Set(s.add(id))));
  const header = { filters, set };
  return (
    <div>
      <h1>Tasks</h1>
      <FilterBar filters={filters} set={set} />
      <ErrorBox error={page.error} />
      <Bulk selected={list.filter((t) => selected.has(t.id))} done={() => (setSelected(new Set()), page.reload())} />
      <p class="muted" data-testid="task-total">
        {total} tasks{page.data !== undefined ? ` · answered in ${page.data.ms} ms` : ''}
      </p>
      <Table list={list} selected={selected} setSelected={setSelected} toggle={toggle} header={header} />
      <Pager offset={offset} total={total} go={(o) => set({ ...filters, offset: String(o) })} />
    </div>
  );
}

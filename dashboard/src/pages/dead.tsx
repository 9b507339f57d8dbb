/** Dead letters: dead and failed tasks grouped by status and error code; a group's tasks; retry one, redrive a group. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api';
import { ago, shortId, when } from '../format';
import { can } from '../grants';
import { useLive } from '../live';
import { Link } from '../router';
import type { TaskPage } from '../tasks-model';
import { Action, Card, ErrorBox, useLoad, useThrottle } from '../ui';

interface Group {
  status: 'dead' | 'failed';
  code: string;
  count: number;
  latest_at: string;
  message: string;
}

/** Redrives every task of a group, 1,000 at a time (the API's bound), oldest first. */
async function redriveGroup(status: string, code: string): Promise<number> {
  let moved = 0;
  for (;;) {
    const page = await api.get<TaskPage>(
      `/api/tasks?status=${status}&error_code=${encodeURIComponent(code)}&limit=1000&order=asc`,
    );
    if (page.tasks.length === 0) return moved;
    const r = await api.post<{ redriven: number }>('/api/tasks/redrive', { status, ids: page.tasks.map((t) => t.id) });
    moved += r.redriven;
    if (r.redriven === 0) return moved;
  }
}

function GroupTasks(props: { status: string; code: string }): JSX.Element {
  const page = useLoad(
    () =>
      api.get<TaskPage>(
        `/api/tasks?status=${props.status}&error_code=${encodeURIComponent(props.code)}&limit=20&order=desc`,
      ),
    [props.status, props.code],
  );
  return (
    <table>
      <tbody>
        {(page.data?.tasks ?? []).map((t) => (
          <tr key={t.id} data-task={t.id}>
            <td>
              <Link to={`/tasks/${t.id}`}>{shortId(t.id)}</Link>
            </td>
            <td class="wrap">{t.title}</td>
            <td class="wrap">{t.error?.message ?? ''}</td>
            <td>{when(t.updated_at)}</td>
            <td>
              {can('tasks.write') ? (
                <Action label="Retry" run={() => api.post(`/api/tasks/${t.id}/retry`)} done={page.reload} />
              ) : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const WHICH = [
  ['', 'dead and failed'],
  ['dead', 'dead'],
  ['failed', 'failed'],
] as const;

function GroupCard(props: { g: Group; open: boolean; toggle: () => void; done: () => void }): JSX.Element {
  const g = props.g;
  return (
    <Card
      title={`${g.code} · ${g.status} · ${g.count}`}
      actions={
        <span class="row">
          <span class="muted small">latest {ago(g.latest_at)}</span>
          <button type="button" aria-expanded={props.open} onClick={props.toggle}>
            {props.open ? 'Hide tasks' : 'Show tasks'}
          </button>
          {can('tasks.write') ? (
            <Action
              label={`Redrive ${g.count}`}
              kind="primary"
              confirm={`Redrive ${g.count} ${g.status} tasks with ${g.code}?`}
              run={() => redriveGroup(g.status, g.code)}
              done={props.done}
            />
          ) : null}
        </span>
      }
    >
      <p class="wrap muted">{g.message}</p>
      {props.open ? <GroupTasks status={g.status} code={g.code} /> : null}
    </Card>
  );
}

export function DeadLetters(): JSX.Element {
  const [status, setStatus] = useState<'' | 'dead' | 'failed'>('');
  const [open, setOpen] = useState<string>();
  const groups = useLoad(
    () => api.get<{ groups: Group[] }>(`/api/tasks/errors${status === '' ? '' : `?status=${status}`}`),
    [status],
  );
  const reload = useThrottle(groups.reload, 2000);
  useLive(['task.dead', 'task.failed', 'task.requeued', 'task.created'], reload);
  const list = groups.data?.groups ?? [];
  return (
    <div>
      <h1>Dead letters</h1>
      <div class="row" role="radiogroup" aria-label="Which tasks">
        {WHICH.map(([value, label]) => (
          <label key={value} class="inline">
            <input type="radio" name="status" checked={status === value} onChange={() => setStatus(value)} /> {label}
          </label>
        ))}
      </div>
      <ErrorBox error={groups.error} />
      {list.length === 0 && !groups.loading ? <p class="muted">No dead or failed tasks.</p> : null}
      {list.map((g) => {
        const key = `${g.status}:${g.code}`;
        return (
          <GroupCard
            key={key}
            g={g}
            open={open === key}
            toggle={() => setOpen(open === key ? undefined : key)}
            done={groups.reload}
          />
        );
      })}
    </div>
  );
}

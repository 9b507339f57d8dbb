/** Flow control (keys: running, waiting, limits, rate and budget buckets with their fill) and schedules (next run, last runs; pause, resume, trigger). */
import type { JSX } from 'preact';
import { api } from '../api';
import { ago, num, shortId, when } from '../format';
import { can } from '../grants';
import { useLive } from '../live';
import { Link } from '../router';
import { Action, Badge, Card, ErrorBox, Head, useLoad, useThrottle } from '../ui';

interface FlowKey {
  key: string;
  running: number;
  waiting: number;
  reserved: Record<string, number>;
  rules: {
    concurrency?: { limit: number };
    rate?: { limit: number; window_ms: number };
    fairness?: { weight: number };
  };
  overridden: string[];
  buckets: Array<{ name: string; level: number; capacity: number; full_at: string | null }>;
}

interface Schedule {
  id: string;
  name: string;
  cron: string | null;
  interval_ms: number | null;
  timezone: string;
  overlap: string;
  catchup: string;
  paused: boolean;
  next_run_at: string | null;
  last_tick_at: string | null;
  last_task_id: string | null;
  fired: number;
  skipped: number;
}

function Meter(props: { level: number; capacity: number; label: string }): JSX.Element {
  return (
    <span class="meter-wrap">
      <meter min={0} max={props.capacity} value={props.level} aria-label={props.label} />
      <span class="small">
        {num(Math.floor(props.level))} / {num(props.capacity)}
      </span>
    </span>
  );
}

function Keys(): JSX.Element {
  const flow = useLoad(() => api.get<{ keys: FlowKey[] }>('/api/flow'), []);
  const reload = useThrottle(flow.reload, 2000);
  useLive(['task.created', 'task.completed', 'task.failed', 'task.waiting'], reload);
  const keys = flow.data?.keys ?? [];
  return (
    <Card title="Flow-control keys">
      <ErrorBox error={flow.error} />
      {keys.length === 0 && !flow.loading ? (
        <p class="muted">No key is in use and no rule was set at run time.</p>
      ) : null}
      {keys.length > 0 ? (
        <table>
          <Head cols={['key', 'running', 'waiting', 'limit', 'buckets (level / size)', 'reserved']} />
          <tbody>
            {keys.map((k) => (
              <tr key={k.key}>
                <td>
                  <Link to={`/tasks?concurrency_key=${encodeURIComponent(k.key)}`}>{k.key}</Link>
                  {k.overridden.length > 0 ? (
                    <span class="muted small"> (run-time {k.overridden.join(', ')})</span>
                  ) : null}
                </td>
                <td>{k.running}</td>
                <td>{k.waiting}</td>
                <td>{k.rules.concurrency?.limit ?? '–'}</td>
                <td>
                  {k.buckets.map((b) => (
                    <div key={b.name}>
                      {b.name} <Meter level={b.level} capacity={b.capacity} label={`${k.key} ${b.name}`} />
                      {b.full_at !== null ? <span class="muted small"> full {ago(b.full_at)}</span> : null}
                    </div>
                  ))}
                </td>
                <td>
                  {Object.entries(k.reserved)
                    .map(([u, n]) => `${num(n)} ${u}`)
                    .join(', ') || '–'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Card>
  );
}

function ScheduleRow(props: { s: Schedule; write: boolean; done: () => void }): JSX.Element {
  const { s, write } = props;
  return (
    <tr data-schedule={s.name}>
      <td>{s.name}</td>
      <td>
        {s.cron !== null ? <code>{s.cron}</code> : `every ${num((s.interval_ms ?? 0) / 1000)} s`}{' '}
        <span class="muted small">
          {s.timezone}, {s.overlap}, catch-up {s.catchup}
        </span>
      </td>
      <td>
        <Badge value={s.paused ? 'paused' : 'active'} />
      </td>
      <td>{when(s.next_run_at)}</td>
      <td>
        {when(s.last_tick_at)}{' '}
        {s.last_task_id !== null ? <Link to={`/tasks/${s.last_task_id}`}>{shortId(s.last_task_id)}</Link> : null}
      </td>
      <td>
        {num(s.fired)} / {num(s.skipped)}
      </td>
      {write ? (
        <td>
          {s.paused ? (
            <Action label="Resume" run={() => api.post(`/api/schedules/${s.id}/resume`)} done={props.done} />
          ) : (
            <Action label="Pause" run={() => api.post(`/api/schedules/${s.id}/pause`)} done={props.done} />
          )}
          <Action label="Trigger now" run={() => api.post(`/api/schedules/${s.id}/trigger`)} done={props.done} />
        </td>
      ) : null}
    </tr>
  );
}

function Schedules(): JSX.Element {
  const list = useLoad(() => api.get<{ schedules: Schedule[] }>('/api/schedules'), []);
  const reload = useThrottle(list.reload, 2000);
  useLive(['task.created'], (e) => typeof e.data['schedule_id'] === 'string' && reload());
  const write = can('tasks.write');
  return (
    <Card title="Schedules">
      <ErrorBox error={list.error} />
      {(list.data?.schedules ?? []).length === 0 && !list.loading ? <p class="muted">No schedules.</p> : null}
      {(list.data?.schedules ?? []).length > 0 ? (
        <table>
          <Head
            cols={['name', 'when', 'state', 'next run', 'last tick', 'fired / skipped', write ? 'actions' : null]}
          />
          <tbody>
            {(list.data?.schedules ?? []).map((s) => (
              <ScheduleRow key={s.id} s={s} write={write} done={list.reload} />
            ))}
          </tbody>
        </table>
      ) : null}
    </Card>
  );
}

export function FlowPage(): JSX.Element {
  return (
    <div>
      <h1>Flow control and schedules</h1>
      <Keys />
      <Schedules />
    </div>
  );
}

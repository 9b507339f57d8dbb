/** Agents: local and remote, state, capabilities and learned proficiency, load, success rate; pause, resume, drain, remove; fit for a task. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api';
import { ago, num, pct, shortId } from '../format';
import { can } from '../grants';
import { useLive } from '../live';
import { Action, Badge, Card, ErrorBox, Head, useLoad, useThrottle } from '../ui';

interface Agent {
  id: string;
  name: string;
  kind: string;
  type: string;
  state: string;
  paused: boolean;
  capabilities: Array<{ name: string; proficiency: number }>;
  max_concurrency: number;
  running_tasks?: number;
  node_id?: string | null;
  created_at: string;
  stats: { tasks_completed: number; tasks_failed: number; success_rate: number; average_duration_ms?: number };
}

interface FitRow {
  agent_id: string;
  name: string;
  kind: string;
  takes_work: boolean;
  missing: string | null;
  declared: number;
  model: number | null;
  load: { running: number; capacity: number };
}

function Controls(props: { a: Agent; done: () => void }): JSX.Element | null {
  if (!can('agents.write')) return null;
  const a = props.a;
  const post =
    (op: string, body: unknown = {}) =>
    () =>
      api.post(`/api/agents/${a.id}/${op}`, body);
  return (
    <span class="row">
      {a.paused ? (
        <Action label="Resume" run={post('resume')} done={props.done} />
      ) : (
        <Action label="Pause" run={post('pause')} done={props.done} />
      )}
      <Action
        label="Drain"
        run={post('drain')}
        done={props.done}
        title="Stop new work and wait for its running tasks"
      />
      <Action
        label="Remove"
        kind="danger"
        confirm={`Remove ${a.name}?`}
        run={() => api.del(`/api/agents/${a.id}`)}
        done={props.done}
      />
    </span>
  );
}

function Fit(): JSX.Element {
  const [id, setId] = useState('');
  const [asked, setAsked] = useState<string>();
  const fit = useLoad(
    async () =>
      asked === undefined ? undefined : api.get<{ agents: FitRow[]; node_id: string }>(`/api/tasks/${asked}/fit`),
    [asked],
  );
  return (
    <Card title="Fit for a task">
      <form class="row" onSubmit={(e) => (e.preventDefault(), setAsked(id.trim()))}>
        <label>
          task id
          <input name="fit-task" value={id} onInput={(e) => setId(e.currentTarget.value)} size={38} />
        </label>
        <button type="submit">Score agents</button>
      </form>
      <ErrorBox error={fit.error} />
      {fit.data !== undefined ? (
        <table>
          <Head cols={['agent', 'capable', 'declared fit', 'model P(success)', 'queued / room']} />
          <tbody>
            {fit.data.agents.map((r) => (
              <tr key={r.agent_id}>
                <td>
                  {r.name} <span class="muted">{r.kind}</span>
                </td>
                <td>{r.missing === null ? (r.takes_work ? 'yes' : 'yes (takes no work)') : `lacks ${r.missing}`}</td>
                <td>{num(r.declared)}</td>
                <td>{r.model === null ? '–' : pct(r.model)}</td>
                <td>
                  {r.load.running} / {r.load.capacity}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Card>
  );
}

export function Agents(): JSX.Element {
  const agents = useLoad(() => api.get<{ agents: Agent[]; total: number }>('/api/agents?limit=1000'), []);
  const reload = useThrottle(agents.reload, 1000);
  useLive(['agent.'], reload);
  return (
    <div>
      <h1>Agents</h1>
      <ErrorBox error={agents.error} />
      <div class="scroll">
        <table>
          <Head
            cols={[
              'agent',
              'kind',
              'state',
              'capabilities (proficiency)',
              'load',
              'success',
              'done / failed',
              'node',
              'registered',
              'actions',
            ]}
          />
          <tbody>
            {(agents.data?.agents ?? []).map((a) => (
              <tr key={a.id} data-agent={a.name}>
                <td>
                  {a.name} <span class="muted small">{shortId(a.id)}</span>
                </td>
                <td>{a.kind}</td>
                <td>
                  <Badge value={a.paused ? 'paused' : a.state} />
                </td>
                <td class="wrap">{a.capabilities.map((c) => `${c.name} ${pct(c.proficiency)}`).join(', ')}</td>
                <td>
                  {num(a.running_tasks ?? 0)} / {a.max_concurrency}
                </td>
                <td>{pct(a.stats.success_rate)}</td>
                <td>
                  {num(a.stats.tasks_completed)} / {num(a.stats.tasks_failed)}
                </td>
                <td>{a.node_id ?? '–'}</td>
                <td>{ago(a.created_at)}</td>
                <td>
                  <Controls a={a} done={agents.reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Fit />
    </div>
  );
}

/** One task: fields, payload, result, error, history, tree, progress stream, why it waits; cancel, retry, approve, reject, signal. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api';
import { json, shortId, when } from '../format';
import { can, canApprove } from '../grants';
import { useLive } from '../live';
import { Link } from '../router';
import { ENDED, retryable, waitingFor, type Task } from '../tasks-model';
import { Action, Badge, Card, ErrorBox, useLoad } from '../ui';

interface TaskEvent {
  id?: number;
  from_status: string | null;
  to_status: string;
  agent_id: string | null;
  node_id: string | null;
  detail: unknown;
  created_at: string;
}

interface Detail extends Task {
  events: TaskEvent[];
  depends_on?: string[];
}

interface TreeNode {
  id: string;
  title: string;
  status: string;
  children?: TreeNode[];
}

interface Progress {
  seq?: number;
  percent: number | null;
  message: string | null;
  chunk: string | null;
  at: string;
}

function Tree(props: { node: TreeNode; current: string }): JSX.Element {
  const n = props.node;
  return (
    <li>
      {n.id === props.current ? <strong>{n.title}</strong> : <Link to={`/tasks/${n.id}`}>{n.title}</Link>}{' '}
      <Badge value={n.status} />
      {n.children !== undefined && n.children.length > 0 ? (
        <ul>
          {n.children.map((c) => (
            <Tree key={c.id} node={c} current={props.current} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

function Decide(props: { t: Task; done: () => void }): JSX.Element | null {
  const [why, setWhy] = useState('');
  const [name, setName] = useState(waitingFor(props.t)?.signal ?? '');
  const [payload, setPayload] = useState('{}');
  const w = waitingFor(props.t);
  if (w === undefined) return null;
  const signal = (): Promise<unknown> =>
    api.post(`/api/tasks/${props.t.id}/signal`, { name, payload: JSON.parse(payload) as unknown });
  return (
    <Card title={`Waiting for ${w.text}`}>
      {w.approval && canApprove() ? (
        <div class="row">
          <label>
            reason
            <input name="reason" value={why} onInput={(e) => setWhy(e.currentTarget.value)} />
          </label>
          <Action
            label="Approve"
            kind="primary"
            run={() => api.post(`/api/tasks/${props.t.id}/approve`, why === '' ? {} : { reason: why })}
            done={props.done}
          />
          <Action
            label="Reject"
            kind="danger"
            run={() => api.post(`/api/tasks/${props.t.id}/reject`, why === '' ? {} : { reason: why })}
            done={props.done}
          />
        </div>
      ) : null}
      {!w.approval && w.signal !== undefined && can('tasks.write') ? (
        <div class="row">
          <label>
            signal
            <input name="signal" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            payload (JSON)
            <input name="payload" value={payload} onInput={(e) => setPayload(e.currentTarget.value)} />
          </label>
          <Action label="Send signal" kind="primary" run={signal} done={props.done} />
        </div>
      ) : null}
    </Card>
  );
}

function Actions(props: { t: Task; done: () => void }): JSX.Element | null {
  if (!can('tasks.write')) return null;
  const t = props.t;
  return (
    <div class="row">
      {!ENDED.has(t.status) ? (
        <Action
          label="Cancel"
          kind="danger"
          confirm="Cancel this task?"
          run={() => api.post(`/api/tasks/${t.id}/cancel`, { reason: 'cancelled from the dashboard' })}
          done={props.done}
        />
      ) : null}
      {retryable(t) ? (
        <Action label="Retry" kind="primary" run={() => api.post(`/api/tasks/${t.id}/retry`)} done={props.done} />
      ) : null}
    </div>
  );
}

function Links(props: { ids: readonly string[] }): JSX.Element {
  if (props.ids.length === 0) return <>–</>;
  return (
    <>
      {props.ids.map((id, i) => (
        <span key={id}>
          {i > 0 ? ', ' : ''}
          <Link to={`/tasks/${id}`}>{shortId(id)}</Link>
        </span>
      ))}
    </>
  );
}

function Fields(props: { t: Detail }): JSX.Element {
  const t = props.t;
  const rows: Array<[string, string | JSX.Element]> = [
    ['status', <Badge value={t.status} />],
    ['priority', t.priority],
    ['type', t.type],
    [
      'capabilities',
      t.required_capabilities.map((c) => `${c.name}${c.min_proficiency ? ` ≥ ${c.min_proficiency}` : ''}`).join(', ') ||
        '–',
    ],
    ['agent', t.assigned_agent ?? '–'],
    ['attempts', `${t.attempts} of ${t.max_attempts}`],
    ['tenant', t.fairness_key || '–'],
    ['concurrency keys', (t.concurrency_keys ?? []).join(', ') || '–'],
    ['parent', t.parent_id ? <Link to={`/tasks/${t.parent_id}`}>{shortId(t.parent_id)}</Link> : '–'],
    ['depends on', <Links ids={t.depends_on ?? []} />],
    ['created', when(t.created_at)],
    ['started', when(t.started_at)],
    ['ended', when(t.completed_at)],
    ['run at', when(t.run_at)],
    ['progress', t.progress ? `${t.progress.percent ?? '–'} % ${t.progress.message ?? ''}` : '–'],
  ];
  return (
    <dl class="fields">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd data-field={k}>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function History(props: { events: TaskEvent[] }): JSX.Element {
  return (
    <ol class="timeline">
      {props.events.map((e, i) => (
        <li key={e.id ?? i}>
          <time>{when(e.created_at)}</time> {e.from_status ?? '∅'} → <Badge value={e.to_status} />
          {e.agent_id !== null ? <span class="muted"> agent {shortId(e.agent_id)}</span> : null}
          {e.node_id !== null ? <span class="muted"> on {e.node_id}</span> : null}
          {e.detail !== null ? <code class="small"> {JSON.stringify(e.detail)}</code> : null}
        </li>
      ))}
    </ol>
  );
}

function Why(props: { explain: { code: string; message: string } | undefined }): JSX.Element {
  return (
    <Card title="Why">
      <p data-testid="explain">
        {props.explain !== undefined ? (
          <>
            <strong>{props.explain.code}</strong>: {props.explain.message}
          </>
        ) : (
          '–'
        )}
      </p>
    </Card>
  );
}

function line(p: Progress): string {
  return `${when(p.at)} ${p.percent ?? ''}${p.percent !== null ? ' %' : ''} ${p.message ?? ''}${p.chunk ?? ''}`;
}

function ProgressStream(props: { stream: Progress[] }): JSX.Element {
  return (
    <Card title={`Progress (${props.stream.length})`}>
      <pre class="stream" data-testid="progress">
        {props.stream.map(line).join('\n')}
      </pre>
    </Card>
  );
}

function Body(props: {
  t: Detail;
  tree: TreeNode | undefined;
  explain: { code: string; message: string } | undefined;
  stream: Progress[];
  reload: () => void;
}): JSX.Element {
  const { t } = props;
  const id = t.id;
  return (
    <>
      <Actions t={t} done={props.reload} />
      <Decide t={t} done={props.reload} />
      <Why explain={props.explain} />
      <div class="two">
        <Card title="Fields">
          <Fields t={t} />
        </Card>
        <Card title="Tree">
          {props.tree !== undefined ? (
            <ul class="tree">
              <Tree node={props.tree} current={id} />
            </ul>
          ) : (
            <p class="muted">–</p>
          )}
        </Card>
      </div>
      <div class="two">
        <Card title="Payload">
          <pre>{json(t.payload)}</pre>
        </Card>
        <Card title={t.error ? 'Error' : 'Result'}>
          <pre data-testid="result">{json(t.error ?? t.result)}</pre>
        </Card>
      </div>
      <Card title="History">
        <History events={t.events} />
      </Card>
      <ProgressStream stream={props.stream} />
    </>
  );
}

export function TaskPage(props: { id: string }): JSX.Element {
  const id = props.id;
  const task = useLoad(() => api.get<Detail>(`/api/tasks/${id}`), [id]);
  const tree = useLoad(() => api.get<{ tree: TreeNode }>(`/api/tasks/${id}/tree`).then((r) => r.tree), [id]);
  const explain = useLoad(() => api.get<{ code: string; message: string }>(`/api/tasks/${id}/explain`), [id]);
  const progress = useLoad(() => api.get<{ progress: Progress[] }>(`/api/tasks/${id}/progress`), [id]);
  const [live, setLive] = useState<Progress[]>([]);
  const reload = (): void => (task.reload(), tree.reload(), explain.reload());
  useLive(['task.'], (e) => {
    if (e.type === 'task.progress' && e.data['task_id'] === id)
      setLive((l) => [...l.slice(-499), e.data as unknown as Progress]);
    else if (e.data['id'] === id || e.data['task_id'] === id) reload();
  });
  const t = task.data;
  // Stored records, then the live ones (a record is both when it arrived while the page loaded): one per seq.
  const bySeq = new Map<number | string, Progress>();
  for (const p of [...(progress.data?.progress ?? []), ...live]) bySeq.set(p.seq ?? p.at, p);
  const stream = [...bySeq.values()];
  return (
    <div>
      <h1>
        Task {t !== undefined ? <span>{t.title}</span> : null} <span class="muted small">{id}</span>
      </h1>
      <ErrorBox error={task.error} />
      {t === undefined ? null : <Body t={t} tree={tree.data} explain={explain.data} stream={stream} reload={reload} />}
    </div>
  );
}

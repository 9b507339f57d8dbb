/**
 * Events: a live tail of /ws. Events go into a bounded ring (the newest 2,000)
 * and the list renders at most 5 times a second, the newest 200 rows: a burst of
 * thousands of events a second costs the page a few small renders, never a freeze.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { num } from '../format';
import { onLive, type LiveEvent } from '../live';

const KEEP = 2000;
const SHOWN = 200;
const RENDER_EVERY_MS = 200;
const FAMILIES = ['task.', 'agent.', 'hive.', 'metrics.', 'heartbeat'];

interface Row {
  n: number;
  type: string;
  at: string;
  summary: string;
}

function summarise(e: LiveEvent): string {
  const d = e.data ?? {};
  const id = d['id'] ?? d['task_id'];
  const parts = [typeof id === 'string' ? id.slice(0, 8) : '', d['title'], d['status'], d['name'], d['message']];
  return parts.filter((p) => typeof p === 'string' && p !== '').join(' · ');
}

function useTail(): {
  rows: Row[];
  received: number;
  perSecond: number;
  paused: boolean;
  setPaused: (p: boolean) => void;
} {
  const ring = useRef<Row[]>([]);
  const received = useRef(0);
  const windowStart = useRef({ at: performance.now(), n: 0, rate: 0 });
  const [paused, setPaused] = useState(false);
  const [, render] = useState(0);
  useEffect(
    () =>
      onLive(['*'], (e) => {
        const n = ++received.current;
        ring.current.push({ n, type: e.type, at: e.timestamp, summary: summarise(e) });
        if (ring.current.length > KEEP * 1.5) ring.current = ring.current.slice(-KEEP);
      }),
    [],
  );
  useEffect(() => {
    const t = window.setInterval(() => {
      const w = windowStart.current;
      const now = performance.now();
      if (now - w.at >= 1000)
        windowStart.current = { at: now, n: received.current, rate: ((received.current - w.n) * 1000) / (now - w.at) };
      if (!paused) render((v) => v + 1);
    }, RENDER_EVERY_MS);
    return () => window.clearInterval(t);
  }, [paused]);
  const [frozen, setFrozen] = useState<Row[]>([]);
  const pause = (p: boolean): void => {
    setFrozen(p ? ring.current.slice(-KEEP) : []);
    setPaused(p);
  };
  return {
    rows: paused ? frozen : ring.current.slice(-KEEP),
    received: received.current,
    perSecond: windowStart.current.rate,
    paused,
    setPaused: pause,
  };
}

function Toolbar(props: {
  family: string;
  setFamily: (f: string) => void;
  text: string;
  setText: (t: string) => void;
  tail: ReturnType<typeof useTail>;
  shown: number;
}): JSX.Element {
  const { family, setFamily, text, setText, tail } = props;
  return (
    <div class="row filters" role="search">
      <label>
        type
        <select name="family" value={family} onChange={(e) => setFamily(e.currentTarget.value)}>
          <option value="">all</option>
          {FAMILIES.map((f) => (
            <option key={f} value={f}>
              {f.replace(/\.$/, '.*')}
            </option>
          ))}
        </select>
      </label>
      <label>
        contains
        <input name="contains" type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <button
        type="button"
        class={tail.paused ? 'primary' : ''}
        aria-pressed={tail.paused}
        onClick={() => tail.setPaused(!tail.paused)}
        data-testid="pause"
      >
        {tail.paused ? 'Resume' : 'Pause'}
      </button>
      <span class="muted" role="status">
        <span data-testid="received">{num(tail.received)}</span> received ·{' '}
        <span data-testid="rate">{num(Math.round(tail.perSecond))}</span>/s · showing {props.shown}
        {tail.paused ? ' (paused)' : ''}
      </span>
    </div>
  );
}

export function Events(): JSX.Element {
  const tail = useTail();
  const [family, setFamily] = useState('');
  const [text, setText] = useState('');
  const needle = text.toLowerCase();
  const shown: Row[] = [];
  for (let i = tail.rows.length - 1; i >= 0 && shown.length < SHOWN; i--) {
    const r = tail.rows[i]!;
    if (family !== '' && !r.type.startsWith(family)) continue;
    if (needle !== '' && !r.type.includes(needle) && !r.summary.toLowerCase().includes(needle)) continue;
    shown.push(r);
  }
  return (
    <div>
      <h1>Events</h1>
      <Toolbar family={family} setFamily={setFamily} text={text} setText={setText} tail={tail} shown={shown.length} />
      <div class="scroll tail">
        <table>
          <tbody>
            {shown.map((r) => (
              <tr key={r.n}>
                <td class="small muted">{r.n}</td>
                <td class="small">{new Date(r.at).toLocaleTimeString()}</td>
                <td>
                  <code>{r.type}</code>
                </td>
                <td class="wrap">{r.summary}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** The dashboard: who is signed in, the navigation, the live connection, and the page for the path. */
import './style.css';
import 'uplot/dist/uPlot.min.css';
import type { JSX } from 'preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, logout, me, onSessionExpired, type Me } from './api';
import { setMe } from './grants';
import { connectLive, disconnectLive, useLiveState } from './live';
import { Link, navigate, useLocation } from './router';
import { Login } from './pages/login';
import { Overview } from './pages/overview';
import { Tasks } from './pages/tasks';
import { TaskPage } from './pages/task';
import { DeadLetters } from './pages/dead';
import { Agents } from './pages/agents';
import { FlowPage } from './pages/flow';
import { Events } from './pages/events';

const NAV: ReadonlyArray<[string, string]> = [
  ['/', 'Overview'],
  ['/tasks', 'Tasks'],
  ['/dead', 'Dead letters'],
  ['/agents', 'Agents'],
  ['/flow', 'Flow & schedules'],
  ['/events', 'Events'],
];

function Page(props: { path: string }): JSX.Element {
  const p = props.path;
  const task = /^\/tasks\/([0-9a-f-]{36})$/i.exec(p);
  if (task !== null) return <TaskPage id={task[1]!} />;
  if (p === '/tasks') return <Tasks />;
  if (p === '/dead') return <DeadLetters />;
  if (p === '/agents') return <Agents />;
  if (p === '/flow') return <FlowPage />;
  if (p === '/events') return <Events />;
  if (p === '/' || p === '/login') return <Overview />;
  return (
    <p>
      No page {p}. <Link to="/">Overview</Link>
    </p>
  );
}

function Shell(props: { me: Me; onLogout: () => void }): JSX.Element {
  const { path } = useLocation();
  const live = useLiveState();
  const current = (to: string): boolean => (to === '/' ? path === '/' : path.startsWith(to));
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">AI Orchestrator Hub</span>
        <nav aria-label="Pages">
          {NAV.map(([to, label]) => (
            <Link key={to} to={to} class={current(to) ? 'active' : ''} aria-current={current(to) ? 'page' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <span class={`live live-${live}`} role="status" title="The live connection (/ws)">
          {live === 'open' ? 'live' : live}
        </span>
        <span class="who" data-testid="who">
          {props.me.name} ({props.me.roles.join(', ')})
        </span>
        {props.me.kind === 'anonymous' ? null : (
          <button type="button" onClick={props.onLogout}>
            Log out
          </button>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        <Page path={path} />
      </main>
    </div>
  );
}

function App(): JSX.Element {
  const [who, setWho] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState<string>();
  const check = (): void => {
    me().then(
      (m) => {
        setMe(m ?? undefined);
        setWho(m);
        if (m === null) disconnectLive();
        else connectLive();
      },
      (err: unknown) => {
        setMe(undefined);
        disconnectLive();
        setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
      },
    );
  };
  useEffect(check, []);
  useEffect(() => onSessionExpired(() => (setMe(undefined), disconnectLive(), setWho(null))), []);
  if (error !== undefined) return <p class="error">The hub did not answer: {error}</p>;
  if (who === undefined) return <p class="muted">Connecting…</p>;
  if (who === null) return <Login onLoggedIn={check} />;
  const out = (): void => {
    void logout().then(() => {
      disconnectLive();
      setMe(undefined);
      setWho(null);
      navigate('/');
    });
  };
  return <Shell me={who} onLogout={out} />;
}

render(<App />, document.getElementById('app')!);

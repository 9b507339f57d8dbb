/** The login form (POST /auth/login); the session is refreshed before it expires. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { login } from '../api';
import { asApiError } from '../ui';

export function Login(props: { onLoggedIn: () => void }): JSX.Element {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = (e: Event): void => {
    e.preventDefault();
    setBusy(true);
    login(username, password).then(
      () => props.onLoggedIn(),
      (err: unknown) => {
        const a = asApiError(err);
        setError(a.status === 401 ? 'Wrong username or password.' : `${a.code}: ${a.message}`);
        setBusy(false);
      },
    );
  };
  return (
    <main class="login">
      <form onSubmit={submit} aria-label="Log in">
        <h1>AI Orchestrator Hub</h1>
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        {error !== undefined ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
    </main>
  );
}

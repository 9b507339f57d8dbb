/** Small pieces every page uses: loading data, showing errors, buttons that act, badges and stats. */
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** Loads `fn` when `deps` change; `reload()` loads again (the last answer wins). */
export function useLoad<T>(fn: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, set] = useState<{ data: T | undefined; error: ApiError | undefined; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const seq = useRef(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const reload = useCallback(() => {
    const mine = ++seq.current;
    set((s) => ({ ...s, loading: true }));
    fnRef.current().then(
      (data) => mine === seq.current && set({ data, error: undefined, loading: false }),
      (err: unknown) => mine === seq.current && set((s) => ({ ...s, error: asApiError(err), loading: false })),
    );
  }, []);
  useEffect(reload, deps);
  return { ...state, reload };
}

/** Runs `fn` at most once per `ms` however often it is asked (live events → one reload). */
export function useThrottle(fn: () => void, waitMs: number): () => void {
  const last = useRef(0);
  const timer = useRef<number | undefined>(undefined);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => () => window.clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    const wait = Math.max(0, last.current + waitMs - Date.now());
    timer.current = window.setTimeout(() => {
      timer.current = undefined;
      last.current = Date.now();
      fnRef.current();
    }, wait);
  }, [waitMs]);
}

export function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, 'CLIENT_ERROR', String(err));
}

export function ErrorBox(props: { error: ApiError | undefined }): JSX.Element | null {
  if (props.error === undefined) return null;
  const field = props.error.details['field'];
  return (
    <div class="error" role="alert">
      <strong>{props.error.code}</strong> {props.error.message}
      {typeof field === 'string' ? <span class="muted"> (field {field})</span> : null}
    </div>
  );
}

/** A button that runs an action, shows that it runs, and reports its refusal next to it. */
export function Action(props: {
  label: string;
  run: () => Promise<unknown>;
  done?: () => void;
  confirm?: string;
  kind?: 'danger' | 'primary';
  disabled?: boolean;
  title?: string;
}): JSX.Element {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const click = (): void => {
    if (props.confirm !== undefined && !window.confirm(props.confirm)) return;
    setBusy(true);
    setError(undefined);
    props.run().then(
      () => {
        setBusy(false);
        props.done?.();
      },
      (err: unknown) => {
        setBusy(false);
        setError(asApiError(err));
      },
    );
  };
  return (
    <span class="action">
      <button
        type="button"
        class={props.kind ?? ''}
        disabled={busy || props.disabled}
        onClick={click}
        title={props.title}
      >
        {busy ? `${props.label}…` : props.label}
      </button>
      {error !== undefined ? (
        <span class="error inline" role="alert">
          {error.code}: {error.message}
        </span>
      ) : null}
    </span>
  );
}

export function Badge(props: { value: string }): JSX.Element {
  return <span class={`badge s-${props.value.replace(/[^a-z_]/gi, '')}`}>{props.value}</span>;
}

export function Stat(props: { label: string; value: string; hint?: string; id?: string }): JSX.Element {
  return (
    <div class="stat" id={props.id}>
      <div class="stat-value" data-testid={props.id}>
        {props.value}
      </div>
      <div class="stat-label">{props.label}</div>
      {props.hint !== undefined ? <div class="muted small">{props.hint}</div> : null}
    </div>
  );
}

export function Card(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }): JSX.Element {
  return (
    <section class="card" aria-label={props.title}>
      <header class="card-head">
        <h2>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}

export function Loading(props: { loaded: { loading: boolean; data: unknown } }): JSX.Element | null {
  return props.loaded.loading && props.loaded.data === undefined ? <p class="muted">Loading…</p> : null;
}

/** A table's header row of plain column names (`null` leaves a column out). */
export function Head(props: { cols: ReadonlyArray<string | null> }): JSX.Element {
  return (
    <thead>
      <tr>
        {props.cols.map((c, i) =>
          c === null ? null : (
            <th key={i} scope="col">
              {c}
            </th>
          ),
        )}
      </tr>
    </thead>
  );
}

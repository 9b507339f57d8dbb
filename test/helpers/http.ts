import { execFile } from 'node:child_process';

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small JSON client for one hub. */
export function client(port: number) {
  const base = `http://127.0.0.1:${port}`;
  const call = async <T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (e.g. Prometheus text)
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  };
  return {
    base,
    get: <T = any>(path: string, headers?: Record<string, string>) => call<T>('GET', path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) =>
      call<T>('POST', path, body, headers),
    patch: <T = any>(path: string, body?: unknown) => call<T>('PATCH', path, body),
    del: <T = any>(path: string) => call<T>('DELETE', path),
    call,
  };
}

export type Client = ReturnType<typeof client>;

/** Runs a shell pipeline (the guide's curl | jq commands) and returns its stdout. */
export function sh(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-o', 'pipefail', '-c', command], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

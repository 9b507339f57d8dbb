/**
 * Open streams (/ws, WatchTasks, AgentService) kept only as long as their
 * credentials: every STREAM_RECHECK_MS each is checked again, and one whose
 * check is refused (not an outage) is closed through its onRevoked, once.
 */
import { isOutage, toHubError, type HubError } from '../errors/index.js';
import type { Permission } from './permissions.js';
import type { Credentials } from './principal.js';

/** How often open streams' credentials are checked again. */
export const STREAM_RECHECK_MS = 500;

export interface WatchedStream {
  permission: Permission;
  c: Credentials;
  what: string;
  onRevoked: (err: HubError) => void;
}

export interface StreamChecks {
  /** Called at the start of each pass (the service reads principals afresh from then on). */
  beforePass(): void;
  /** Throws the refusal when the stream's credentials no longer hold. */
  check(w: WatchedStream): Promise<void>;
  /** A stream was closed for its credentials (audit). */
  closed(w: WatchedStream, err: HubError): Promise<void>;
}

export class StreamWatcher {
  private readonly streams = new Set<WatchedStream>();
  private timer: NodeJS.Timeout | undefined;
  private rechecking = false;

  constructor(private readonly checks: StreamChecks) {}

  /** Watches a stream until the returned function is called (or its credentials are revoked). */
  add(w: WatchedStream): () => void {
    this.streams.add(w);
    this.timer ??= setInterval(() => void this.recheck(), STREAM_RECHECK_MS);
    this.timer.unref();
    return () => {
      this.streams.delete(w);
      if (this.streams.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private async recheck(): Promise<void> {
    if (this.rechecking) return; // a slow pass (a slow database) is not overlapped by the next
    this.rechecking = true;
    try {
      await this.pass();
    } finally {
      this.rechecking = false;
    }
  }

  private async pass(): Promise<void> {
    this.checks.beforePass();
    for (const w of [...this.streams]) {
      try {
        await this.checks.check(w);
      } catch (err) {
        if (isOutage(err) || !this.streams.has(w)) continue;
        this.streams.delete(w);
        const e = toHubError(err);
        w.onRevoked(e);
        await this.checks.closed(w, e);
      }
    }
  }
}

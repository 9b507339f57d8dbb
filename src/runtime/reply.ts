import { AskTimeoutError } from '../errors/index.js';

/** The typed reply channel an asked actor answers on. */
export interface ReplyTo<R> {
  ok(value: R): void;
  fail(error: unknown): void;
  readonly settled: boolean;
}

/** A pending ask: settles once (reply, failure, or timeout), then ignores the rest. */
export class PendingReply<R> implements ReplyTo<R> {
  readonly promise: Promise<R>;
  private resolve!: (value: R) => void;
  private reject!: (error: unknown) => void;
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(private readonly onSettle: (reply: PendingReply<R>) => void) {
    this.promise = new Promise<R>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  get settled(): boolean {
    return this.done;
  }

  startTimer(path: string, timeoutMs: number): void {
    this.timer = setTimeout(() => this.fail(new AskTimeoutError(path, timeoutMs)), timeoutMs);
  }

  ok(value: R): void {
    if (this.finish()) this.resolve(value);
  }

  fail(error: unknown): void {
    if (this.finish()) this.reject(error);
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.onSettle(this);
    return true;
  }
}

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

/** The message types of union M that expect a reply. */
export type RequestType<M> = M extends { type: infer T; replyTo: ReplyTo<unknown> } ? T : never;
/** What message type T of union M carries besides its type and reply channel. */
export type RequestBody<M, T> = Omit<Extract<M, { type: T }>, 'type' | 'replyTo'>;
/** What an actor answers to message type T of union M. */
export type ReplyOf<M, T> = Extract<M, { type: T }> extends { replyTo: ReplyTo<infer R> } ? R : never;

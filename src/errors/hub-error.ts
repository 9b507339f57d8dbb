import { ERROR_CODES, type ErrorCode } from './codes.js';

export interface HubErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * The hub's one error class. `code` is stable and maps to HTTP and gRPC status
 * through ERROR_CODES; `retryable` says whether trying again can help.
 */
export class HubError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: HubErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.code = code;
    this.retryable = ERROR_CODES[code].retryable;
    this.details = options.details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get grpcStatus(): number {
    return ERROR_CODES[this.code].grpc;
  }
}

/** Thrown by ask() when the actor does not reply within the deadline. */
export class AskTimeoutError extends HubError {
  constructor(path: string, timeoutMs: number) {
    super('ACTOR_TIMEOUT', `actor ${path} did not reply within ${timeoutMs} ms`, {
      details: { path, timeout_ms: timeoutMs },
    });
    this.name = 'AskTimeoutError';
  }
}

/** Thrown by tell()/ask() when an actor's mailbox already holds its bound. */
export class MailboxFullError extends HubError {
  constructor(path: string, bound: number) {
    super('QUEUE_FULL', `mailbox of actor ${path} is full (${bound} messages); the message was refused`, {
      details: { path, mailbox_bound: bound },
    });
    this.name = 'MailboxFullError';
  }
}

/** Rejects an ask whose actor stopped before replying (the message became a dead letter). */
export class ActorStoppedError extends HubError {
  constructor(path: string) {
    super('ACTOR_STOPPED', `actor ${path} has stopped; the message was not handled`, { details: { path } });
    this.name = 'ActorStoppedError';
  }
}

/** Rejects an ask whose handler threw: the actor crashed on this message. */
export class ActorCrashedError extends HubError {
  constructor(path: string, cause: unknown) {
    super('ACTOR_CRASHED', `actor ${path} crashed while handling the message: ${errorMessage(cause)}`, {
      cause,
      details: { path },
    });
    this.name = 'ActorCrashedError';
  }
}

/** A one-line description of any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Wraps anything thrown into a HubError, keeping HubErrors as they are. */
export function toHubError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  return new HubError('INTERNAL', errorMessage(err), { cause: err });
}

/**
 * True when err says a dependency is away (the database unreachable, the disk full):
 * an expected, passing condition that retrying later fixes, not a fault of the caller
 * or of the module that met it.
 */
export function isOutage(err: unknown): boolean {
  if (!(err instanceof HubError)) return false;
  if (err.code === 'DATABASE_UNAVAILABLE' || err.code === 'STORAGE_UNAVAILABLE') return true;
  return err.code === 'ACTOR_CRASHED' && isOutage(err.cause);
}

/** Exhaustiveness guard for discriminated unions. */
export function assertNever(value: never): never {
  throw new HubError('INTERNAL', `unexpected value: ${JSON.stringify(value)}`);
}

/**
 * The only file that touches nact. nact 7.6.2's typings are loose (`any`), so we
 * describe the few functions we use with our own narrow types and keep `unknown`
 * at the boundary; nothing nact-typed leaves src/runtime.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** An opaque nact reference (actor or system). */
export interface NactRef {
  readonly name: string;
  readonly path: { toString(): string };
  readonly system: { readonly name: string };
}

export interface NactContext {
  readonly self: NactRef;
  readonly name: string;
}

export interface NactStopContext {
  readonly mailbox: ReadonlyArray<{ message: unknown }>;
}

/** nact's supervision decisions, as opaque tokens read from the crash context. */
export interface NactSupervisionContext {
  readonly resume: symbol;
  readonly reset: symbol;
  readonly stop: symbol;
  readonly escalate: symbol;
  readonly stopChild: symbol;
}

export interface NactSpawnOptions<S> {
  initialState: S;
  onCrash: (
    msg: unknown,
    err: unknown,
    ctx: NactSupervisionContext,
    child: NactRef | undefined,
  ) => symbol | Promise<symbol>;
  afterStop: (state: S, ctx: NactStopContext) => void;
}

interface NactModule {
  start(options?: { name: string }): NactRef;
  spawn<S>(
    parent: NactRef,
    f: (state: S, msg: unknown, ctx: NactContext) => Promise<S>,
    name: string,
    options: NactSpawnOptions<S>,
  ): NactRef;
  dispatch(ref: NactRef, msg: unknown): void;
  stop(ref: NactRef): void;
}

const nact = require('nact') as NactModule;

export const nactStart = (name: string): NactRef => nact.start({ name });
export const nactSpawn: NactModule['spawn'] = (parent, f, name, options) => nact.spawn(parent, f, name, options);
export const nactDispatch = (ref: NactRef, msg: unknown): void => nact.dispatch(ref, msg);
export const nactStop = (ref: NactRef): void => nact.stop(ref);

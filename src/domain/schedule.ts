/**
 * Schedules (docs/workflows.md), the pure part: a cron expression (5 or 6
 * fields, in a time zone; croner parses it) or an interval, a task template,
 * and the policies for overlap and for ticks missed while no node ran.
 */
import { Cron } from 'croner';
import { asInput, int, invalid, oneOf, str } from './validate.js';

export const OVERLAP_POLICIES = ['skip', 'queue_one', 'allow'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];
export const CATCHUP_POLICIES = ['none', 'last', 'all'] as const;
export type CatchupPolicy = (typeof CATCHUP_POLICIES)[number];

/** The shortest interval and the most ticks one pass fires for a schedule. */
export const MIN_INTERVAL_MS = 1000;
export const MAX_CATCHUP = 1000;

export interface NewSchedule {
  name: string;
  cron: string | null;
  interval_ms: number | null;
  timezone: string;
  /** A task submission (POST /api/tasks's body), checked when the schedule is made and built at each tick. */
  template: Record<string, unknown>;
  overlap: OverlapPolicy;
  catchup: CatchupPolicy;
  /** With catchup all: at most this many missed ticks fire (the latest ones). */
  catchup_max: number;
  paused: boolean;
}

export interface Schedule extends NewSchedule {
  id: string;
  next_run_at: string | null;
  last_tick_at: string | null;
  last_task_id: string | null;
  fired: number;
  skipped: number;
  created_at: string;
  updated_at: string;
}

/** The idempotency key of a schedule's tick (the reserved prefix keeps clients' keys apart). */
export function tickKey(scheduleId: string, tick: string): string {
  return `schedule:${scheduleId}:${tick}`;
}

/** The concurrency key that holds a queue_one schedule's runs to one at a time. */
export function scheduleKey(scheduleId: string): string {
  return `schedule:${scheduleId}`;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/**
 * Checks a schedule; `checkTemplate` checks the task template (the submission
 * rules) and throws naming its field. Throws VALIDATION_FAILED naming the field.
 */
export function parseSchedule(body: unknown, checkTemplate: (template: unknown) => void): NewSchedule {
  const input = asInput(body, '(body)', [
    'name',
    'cron',
    'interval_ms',
    'timezone',
    'task',
    'overlap',
    'catchup',
    'catchup_max',
    'paused',
  ]);
  const name = str(input, 'name', { required: true, maxLength: 128 });
  if (!NAME.test(name)) throw invalid('name', 'expected letters, digits, _ . : - (at most 128 characters)');
  const cron =
    input['cron'] === undefined || input['cron'] === null
      ? null
      : str(input, 'cron', { required: true, maxLength: 256 });
  const interval =
    input['interval_ms'] === undefined || input['interval_ms'] === null
      ? null
      : int(input, 'interval_ms', MIN_INTERVAL_MS, 366 * 86_400_000, 0);
  if ((cron === null) === (interval === null)) throw invalid('cron', 'give either cron or interval_ms');
  const timezone = str(input, 'timezone', { required: false, maxLength: 64, fallback: 'UTC' }) || 'UTC';
  checkTimezone(timezone);
  if (cron !== null) checkCron(cron, timezone);
  const template = asInput(input['task'], 'task', Object.keys(input['task'] ?? {}));
  for (const f of ['depends_on', 'run_at', 'parent_id'])
    if (template[f] !== undefined) throw invalid(`task.${f}`, 'is not allowed in a schedule template');
  checkTemplate(template);
  const paused = input['paused'] ?? false;
  if (typeof paused !== 'boolean') throw invalid('paused', 'expected true or false');
  return {
    name,
    cron,
    interval_ms: interval,
    timezone,
    template,
    overlap: oneOf(input, 'overlap', OVERLAP_POLICIES, 'skip'),
    catchup: oneOf(input, 'catchup', CATCHUP_POLICIES, 'last'),
    catchup_max: int(input, 'catchup_max', 1, MAX_CATCHUP, 10),
    paused,
  };
}

function checkTimezone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw invalid('timezone', `unknown time zone ${JSON.stringify(tz)} (an IANA name such as "Europe/Berlin")`);
  }
}

function cronOf(expr: string, timezone: string): Cron {
  return new Cron(expr, { timezone, paused: true });
}

function checkCron(expr: string, timezone: string): void {
  let c: Cron;
  try {
    c = cronOf(expr, timezone);
  } catch (err) {
    throw invalid('cron', `${(err as Error).message.replace(/^CronPattern: /, '')}`);
  }
  if (c.nextRun(new Date()) === null) throw invalid('cron', 'never fires');
}

/** The first tick strictly after `after` (an interval's ticks follow each other, the first one interval after the schedule is made); null when a cron never fires again. */
export function nextTick(s: Pick<NewSchedule, 'cron' | 'interval_ms' | 'timezone'>, after: Date): Date | null {
  if (s.cron !== null) return cronOf(s.cron, s.timezone).nextRun(after);
  return new Date(after.getTime() + (s.interval_ms ?? MIN_INTERVAL_MS));
}

/**
 * The ticks due at `now`, from the stored next one: those within `graceMs`
 * of now are on time and fire; older ones were missed (no node ran) and fire
 * per the catch-up policy: none, the latest one, or all (the latest `catchup_max`).
 * Returns what fires and how many are skipped, and the next tick after now.
 */
export function dueTicks(
  s: Pick<NewSchedule, 'cron' | 'interval_ms' | 'timezone' | 'catchup' | 'catchup_max'>,
  nextRunAt: Date,
  now: Date,
  graceMs: number,
): { fire: Date[]; skipped: number; next: Date | null } {
  const ticks: Date[] = [];
  let skipped = 0;
  let t: Date | null = nextRunAt;
  while (t !== null && t.getTime() <= now.getTime()) {
    ticks.push(t);
    if (ticks.length > MAX_CATCHUP * 2) {
      skipped += ticks.splice(0, MAX_CATCHUP).length; // a very long downtime: count, do not keep
    }
    t = nextTick(s, t);
  }
  const onTime = ticks.filter((x) => now.getTime() - x.getTime() <= graceMs);
  const missed = ticks.filter((x) => now.getTime() - x.getTime() > graceMs);
  const keep = s.catchup === 'none' ? 0 : s.catchup === 'last' ? 1 : s.catchup_max;
  const caught = missed.slice(Math.max(0, missed.length - keep));
  skipped += missed.length - caught.length;
  return { fire: [...caught, ...onTime], skipped, next: t };
}

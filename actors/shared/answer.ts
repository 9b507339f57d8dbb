import { HubError } from '../../src/errors/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';

/**
 * Runs `work` and replies with its value. Expected failures (HubError: not found,
 * validation, database unavailable) are replies; anything else is a bug and
 * crashes the actor so that its supervisor restarts it (the ask fails with ACTOR_CRASHED).
 */
export async function answer<R>(replyTo: ReplyTo<R>, work: () => Promise<R> | R): Promise<void> {
  let value: R;
  try {
    value = await work();
  } catch (err) {
    if (err instanceof HubError) {
      replyTo.fail(err);
      return;
    }
    throw err;
  }
  replyTo.ok(value);
}

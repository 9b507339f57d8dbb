import type { ReplyTo } from '../../src/runtime/index.js';

/** Every module answers a ping: /health?detailed=true checks each one within a deadline. */
export type ModulePing = { type: 'module.ping'; replyTo: ReplyTo<true> };

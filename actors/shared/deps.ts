import type { HubConfig } from '../../src/config/index.js';
import type { Logger } from '../../src/log/logger.js';
import type { Store } from '../../src/storage/index.js';

/** What every module actor is built with (passed down by constructor, never global). */
export interface ModuleDeps {
  readonly config: HubConfig;
  readonly store: Store;
  readonly log: Logger;
  readonly nodeId: string;
  readonly startedAt: Date;
}

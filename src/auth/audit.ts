/** The security audit log: each event logged and stored; records past the retention deleted hourly. */
import { errorMessage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { keepPruning, type SecurityStore } from '../storage/index.js';

export class AuditLog {
  constructor(
    private readonly store: SecurityStore,
    private readonly log: Logger,
  ) {}

  async record(event: string, principal: string | null, ip: string | null, detail: unknown): Promise<void> {
    this.log.info(
      { module: 'security', event: `security.${event}`, principal, ip, detail },
      `security: ${event}${principal === null ? '' : ` (${principal})`}`,
    );
    try {
      await this.store.audit({ event, principal, ip, detail });
    } catch (err) {
      this.log.error(
        { err, module: 'security' },
        `security: the audit record of ${event} could not be stored: ${errorMessage(err)}`,
      );
    }
  }

  /** Deletes records older than `days` now, then hourly (0 keeps them). Returns the stop. */
  keepRetention(days: number): () => void {
    return keepPruning({
      days,
      prune: (before) => this.store.pruneAudit(before),
      log: this.log,
      event: 'security.audit_pruned',
      module: 'security',
      what: 'audit records',
    });
  }
}

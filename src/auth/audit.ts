/** The security audit log: each event logged and stored; records past the retention deleted hourly. */
import { errorMessage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { SecurityStore } from '../storage/index.js';

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
    if (days === 0) return () => undefined;
    const prune = (): void =>
      void this.store.pruneAudit(new Date(Date.now() - days * 86_400_000).toISOString()).then(
        (n) =>
          n > 0 &&
          this.log.info(
            { event: 'security.audit_pruned', count: n },
            `security: ${n} audit records older than ${days} days deleted`,
          ),
        (err: unknown) => this.log.warn({ err }, `security: pruning the audit log failed: ${errorMessage(err)}`),
      );
    prune();
    const timer = setInterval(prune, 3_600_000);
    timer.unref();
    return () => clearInterval(timer);
  }
}

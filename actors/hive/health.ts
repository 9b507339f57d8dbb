import type { ModuleStatus } from './hive.js';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface HealthCheck {
  status: HealthStatus;
  [key: string]: unknown;
}

/** The worst of several statuses. */
export function worst(statuses: readonly HealthStatus[]): HealthStatus {
  if (statuses.includes('unhealthy')) return 'unhealthy';
  if (statuses.includes('degraded')) return 'degraded';
  return 'healthy';
}

/** A module that failed (restart intensity exceeded) or stopped is unhealthy; one restarting is degraded. */
export function moduleHealth(m: ModuleStatus): HealthStatus {
  switch (m.status) {
    case 'running':
      return 'healthy';
    case 'starting':
    case 'restarting':
      return 'degraded';
    default:
      return 'unhealthy';
  }
}

/** Usage against a warning threshold (percent): degraded above it, unhealthy at 100 % or more. */
export function thresholdHealth(percent: number, warningPercent: number): HealthStatus {
  if (percent >= 100) return 'unhealthy';
  return percent > warningPercent ? 'degraded' : 'healthy';
}

/**
 * Keys that are valid but have no effect with the rest of the configuration
 * (a pool size for the embedded store, cluster timings with cluster mode off):
 * --check warns about those an operator changed from their defaults, since a
 * change that does nothing is usually a mistake about which switch is on.
 */
import path from 'node:path';
import { readTomlFile } from './layers.js';
import { SETTINGS_DIR } from './load.js';
import type { HubConfig } from './types.js';

interface InertRule {
  inert: (c: HubConfig) => boolean;
  section: keyof HubConfig;
  /** The keys it covers; all but `except` when undefined. */
  keys?: readonly string[];
  except?: readonly string[];
  why: string;
}

const RULES: readonly InertRule[] = [
  {
    inert: (c) => c.database.url === '',
    section: 'database',
    keys: ['max_connections', 'min_connections', 'connection_timeout_seconds', 'idle_timeout_seconds'],
    why: 'the embedded SQLite store (database.url is empty) has no connection pool',
  },
  {
    inert: (c) => !c.cluster.enabled,
    section: 'cluster',
    except: ['enabled', 'node_id'],
    why: 'cluster.enabled is false',
  },
  { inert: (c) => !c.security.enabled, section: 'security', except: ['enabled'], why: 'security.enabled is false' },
  { inert: (c) => !c.grpc.enabled, section: 'grpc', except: ['enabled'], why: 'grpc.enabled is false' },
  { inert: (c) => !c.neural.enabled, section: 'neural', except: ['enabled'], why: 'neural.enabled is false' },
  {
    inert: (c) => c.neural.enabled && !c.neural.gpu_enabled,
    section: 'neural',
    keys: ['gpu_memory_limit_mb', 'cuda_version'],
    why: 'neural.gpu_enabled is false',
  },
  {
    inert: (c) => c.agents.pool_max_size === 0,
    section: 'agents',
    keys: ['pool_min_size', 'scale_up_pending_per_slot', 'scale_cooldown_seconds'],
    why: 'agents.pool_max_size is 0 (no pool scaling)',
  },
];

let defaults: Record<string, Record<string, unknown>> | undefined;

function defaultOf(section: string, key: string): unknown {
  defaults ??= (readTomlFile(path.join(SETTINGS_DIR, 'default.toml'), []) ?? {}) as Record<
    string,
    Record<string, unknown>
  >;
  return defaults[section]?.[key];
}

/** One warning per key that differs from its default and has no effect here. */
export function inertKeys(config: HubConfig): string[] {
  const out: string[] = [];
  for (const rule of RULES) {
    if (!rule.inert(config)) continue;
    const table = config[rule.section] as unknown as Record<string, unknown>;
    const keys = rule.keys ?? Object.keys(table).filter((k) => !(rule.except ?? []).includes(k));
    for (const key of keys) {
      const value = table[key];
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) continue;
      if (JSON.stringify(value) === JSON.stringify(defaultOf(rule.section, key))) continue;
      out.push(`${rule.section}.${key} = ${JSON.stringify(value)} has no effect: ${rule.why}`);
    }
  }
  return out;
}

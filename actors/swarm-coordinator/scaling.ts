/**
 * Pool scaling: sizes the local in-process pool between [agents] pool_min_size
 * and pool_max_size from the ready backlog per slot and utilisation, at most
 * one decision per scale_cooldown_seconds. Pure: the coordinator applies it.
 */
export interface ScalingInput {
  poolSize: number;
  min: number;
  max: number;
  pending: number;
  capacity: number;
  running: number;
  pendingPerSlot: number;
}

export interface ScalingDecision {
  action: 'scale_up' | 'scale_down';
  from: number;
  to: number;
  reason: string;
}

export function decideScaling(s: ScalingInput): ScalingDecision | undefined {
  if (s.max === 0) return undefined;
  if (s.poolSize < s.min)
    return { action: 'scale_up', from: s.poolSize, to: s.min, reason: `the pool is below pool_min_size (${s.min})` };
  if (s.poolSize > s.max)
    return { action: 'scale_down', from: s.poolSize, to: s.max, reason: `the pool is above pool_max_size (${s.max})` };
  const perSlot = s.capacity === 0 ? Number.POSITIVE_INFINITY : s.pending / s.capacity;
  if (s.pending > 0 && perSlot > s.pendingPerSlot && s.poolSize < s.max) {
    const to = Math.min(s.max, s.poolSize + Math.max(1, Math.ceil(s.poolSize / 2)));
    return {
      action: 'scale_up',
      from: s.poolSize,
      to,
      reason: `${s.pending} tasks wait, ${perSlot === Number.POSITIVE_INFINITY ? 'no free slot' : `${perSlot.toFixed(1)} per slot`} (above ${s.pendingPerSlot})`,
    };
  }
  if (s.pending === 0 && s.running === 0 && s.poolSize > s.min) {
    return {
      action: 'scale_down',
      from: s.poolSize,
      to: s.poolSize - 1,
      reason: 'nothing waits and every agent is idle',
    };
  }
  return undefined;
}

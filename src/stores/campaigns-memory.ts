/**
 * The memory {@link CampaignStore}: per-campaign state and counters in process memory.
 *
 * @module
 */

import { checkCampaignId, checkCounts, checkState } from '../campaigns/ids.js';
import type { CampaignRecord, CampaignState, CampaignStore } from '../types.js';

/** Name of the memory campaign store. */
export const MEMORY_CAMPAIGN_STORE_NAME = 'memory';

interface Entry {
  state: CampaignState;
  reason: string | undefined;
  createdAt: number;
  updatedAt: number;
  counts: Record<string, number>;
}

/**
 * Creates a {@link CampaignStore} in memory (the default of `memoryStore()`).
 *
 * @example
 * ```ts
 * import { memoryCampaignStore } from 'mailpush';
 * const campaigns = memoryCampaignStore();
 * campaigns.increment('spring-sale', { sent: 2 }, Date.now());
 * campaigns.get('spring-sale')?.counts.sent; // 2
 * ```
 */
export function memoryCampaignStore(): CampaignStore {
  const entries = new Map<string, Entry>();
  const entry = (id: string, at: number): Entry => {
    let e = entries.get(id);
    if (e === undefined) entries.set(id, (e = { state: 'running', reason: undefined, createdAt: at, updatedAt: at, counts: Object.create(null) as Record<string, number> }));
    return e;
  };
  return {
    name: MEMORY_CAMPAIGN_STORE_NAME,
    increment(id, counts, at) {
      checkCampaignId(id, 'id');
      const list = checkCounts(counts);
      const e = entry(id, at);
      for (const [name, n] of list) e.counts[name] = (e.counts[name] ?? 0) + n;
      e.updatedAt = Math.max(e.updatedAt, at);
    },
    setState(id, state, at, reason) {
      checkCampaignId(id, 'id');
      checkState(state, reason);
      const e = entry(id, at);
      e.state = state;
      e.reason = reason;
      e.updatedAt = Math.max(e.updatedAt, at);
    },
    get(id) {
      const e = typeof id === 'string' ? entries.get(id) : undefined;
      if (e === undefined) return undefined;
      const record: CampaignRecord = { id, state: e.state, createdAt: e.createdAt, updatedAt: e.updatedAt, counts: Object.fromEntries(Object.entries(e.counts).filter(([, v]) => v !== 0)) };
      return e.reason === undefined ? record : { ...record, reason: e.reason };
    },
  };
}

export default memoryCampaignStore;

/**
 * The in-memory suppression list: the default. Lookups are two map reads per recipient.
 *
 * @module
 */

import { configError } from '../errors.js';
import type { SuppressionEntry, SuppressionStore } from '../types.js';

/** Name of the memory suppression store. */
export const SUPPRESSION_STORE_NAME = 'memory';

const REASONS: ReadonlySet<string> = new Set(['hard-bounce', 'soft-bounce', 'complaint', 'unsubscribe', 'manual']);

/** Key of an entry's target: `a:<address>` or `d:<domain>`, lower case; shared by the stores. */
export function suppressionTargetKey(target: { readonly address?: string | undefined; readonly domain?: string | undefined }): string {
  if (target.address !== undefined) return `a:${target.address.toLowerCase()}`;
  return `d:${(target.domain as string).toLowerCase().replace(/\.$/, '')}`;
}

/** Validates an entry; shared by every store so they refuse the same things. */
export function checkSuppressionEntry(entry: SuppressionEntry): void {
  if (typeof entry !== 'object' || entry === null) throw configError('entry', 'an object', entry);
  const hasAddress = typeof entry.address === 'string' && /^[^\s@]+@[^\s@]+$/.test(entry.address);
  const hasDomain = typeof entry.domain === 'string' && /^[A-Za-z0-9.-]+$/.test(entry.domain);
  if (hasAddress === hasDomain) throw configError('entry', 'exactly one of a valid `address` or `domain`', entry.address ?? entry.domain);
  if (!REASONS.has(entry.reason)) throw configError('entry.reason', [...REASONS].join(', '), entry.reason);
  if (entry.scope !== undefined && (typeof entry.scope !== 'string' || entry.scope === '')) throw configError('entry.scope', 'a non-empty string', entry.scope);
  if (!Number.isFinite(entry.createdAt)) throw configError('entry.createdAt', 'a time in ms', entry.createdAt);
  if (entry.expiresAt !== undefined && !Number.isFinite(entry.expiresAt)) throw configError('entry.expiresAt', 'a time in ms', entry.expiresAt);
}

/** The memory store, with a `size` for tests. */
export interface MemorySuppressionStore extends SuppressionStore {
  /** Number of entries held. */
  readonly size: number;
}

/**
 * Creates an in-memory {@link SuppressionStore}.
 *
 * @example
 * ```ts
 * import { createMailer, memorySuppressionStore } from 'mailpush';
 *
 * const suppression = memorySuppressionStore([{ address: 'ann@example.org', reason: 'unsubscribe', scope: 'marketing', createdAt: Date.now() }]);
 * const mailer = createMailer({ transport, suppression });
 * await suppression.find('ann@example.org', ['marketing'], Date.now()); // the entry: marketing mail to Ann is suppressed
 * ```
 */
export default function memorySuppressionStore(initial: readonly SuppressionEntry[] = []): MemorySuppressionStore {
  // target key -> scope ('' for unscoped) -> entry
  const entries = new Map<string, Map<string, SuppressionEntry>>();
  let size = 0;

  const lookup = (key: string, scopes: readonly string[], now: number): SuppressionEntry | undefined => {
    const byScope = entries.get(key);
    if (byScope === undefined) return undefined;
    for (const scope of ['', ...scopes]) {
      const e = byScope.get(scope);
      if (e !== undefined && (e.expiresAt === undefined || e.expiresAt > now)) return e;
    }
    return undefined;
  };

  const store: MemorySuppressionStore = {
    name: SUPPRESSION_STORE_NAME,
    get size() {
      return size;
    },
    add(entry) {
      checkSuppressionEntry(entry);
      const key = suppressionTargetKey(entry);
      let byScope = entries.get(key);
      if (byScope === undefined) entries.set(key, (byScope = new Map()));
      if (!byScope.has(entry.scope ?? '')) size++;
      byScope.set(entry.scope ?? '', Object.freeze({ ...entry }));
    },
    remove(target) {
      if (target.address === undefined && target.domain === undefined) return false;
      const key = suppressionTargetKey(target);
      const byScope = entries.get(key);
      if (byScope === undefined || !byScope.delete(target.scope ?? '')) return false;
      size--;
      if (byScope.size === 0) entries.delete(key);
      return true;
    },
    find(address, scopes, now) {
      const at = address.lastIndexOf('@');
      return lookup(`a:${address.toLowerCase()}`, scopes, now) ?? (at < 0 ? undefined : lookup(`d:${address.slice(at + 1).toLowerCase()}`, scopes, now));
    },
    *list() {
      for (const byScope of entries.values()) yield* byScope.values();
    },
  };
  for (const e of initial) store.add(e);
  return store;
}

/**
 * The in-memory suppression list: the default. Lookups are one or two map reads per recipient.
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

/** What the memory store holds per target: its only entry, or its entries by scope ('' for unscoped). */
type Slot = SuppressionEntry | Map<string, SuppressionEntry>;

const live = (e: SuppressionEntry | undefined, now: number): SuppressionEntry | undefined => (e !== undefined && (e.expiresAt === undefined || e.expiresAt > now) ? e : undefined);

/**
 * The entry as the store keeps it: a frozen entry as it is (nobody can change it; the feedback
 * policy freezes its entries, so a batch of bounces keeps one object per entry, not two), else a
 * frozen copy. `Object.assign`, not `{ ...entry }`: V8 gives each spread copy that is then
 * frozen its own hidden class (hundreds of bytes per entry, kept as long as the entry). A source
 * with an own `__proto__` key (JSON) is spread, so that the key stays data.
 */
const frozenCopy = (entry: SuppressionEntry): SuppressionEntry =>
  Object.isFrozen(entry) ? entry : Object.freeze(Object.hasOwn(entry, '__proto__') ? { ...entry } : Object.assign({}, entry));

const domainKey = (domain: string): string => domain.toLowerCase().replace(/\.$/, '');

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
  // Lower-case address (or domain) -> its entry when it has only the unscoped one (the common
  // case: bounces and complaints), else scope ('' for unscoped) -> entry. Two maps keyed by the
  // target itself instead of one keyed by `a:`/`d:` + target, and no map per target: a batch of
  // 50,000 bounces creates 50,000 entries, and every object they keep alive is copied by the
  // young-generation GC while the host's event loop waits.
  const addresses = new Map<string, Slot>();
  const domains = new Map<string, Slot>();
  let size = 0;

  const lookup = (slot: Slot | undefined, scopes: readonly string[], now: number): SuppressionEntry | undefined => {
    if (slot === undefined) return undefined;
    if (!(slot instanceof Map)) return slot.scope === undefined || scopes.includes(slot.scope) ? live(slot, now) : undefined;
    const unscoped = live(slot.get(''), now);
    if (unscoped !== undefined) return unscoped;
    for (const scope of scopes) {
      const e = live(slot.get(scope), now);
      if (e !== undefined) return e;
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
      const [map, key] = entry.address !== undefined ? [addresses, entry.address.toLowerCase()] : [domains, domainKey(entry.domain as string)];
      const scope = entry.scope ?? '';
      const copy = frozenCopy(entry);
      const slot = map.get(key);
      if (slot === undefined) {
        size++;
        map.set(key, copy);
      } else if (slot instanceof Map) {
        if (!slot.has(scope)) size++;
        slot.set(scope, copy);
      } else if ((slot.scope ?? '') === scope) {
        map.set(key, copy);
      } else {
        size++;
        map.set(key, new Map([[slot.scope ?? '', slot], [scope, copy]]));
      }
    },
    remove(target) {
      if (target.address === undefined && target.domain === undefined) return false;
      const [map, key] = target.address !== undefined ? [addresses, target.address.toLowerCase()] : [domains, domainKey(target.domain as string)];
      const scope = target.scope ?? '';
      const slot = map.get(key);
      if (slot === undefined) return false;
      if (slot instanceof Map) {
        if (!slot.delete(scope)) return false;
        if (slot.size === 0) map.delete(key);
      } else {
        if ((slot.scope ?? '') !== scope) return false;
        map.delete(key);
      }
      size--;
      return true;
    },
    find(address, scopes, now) {
      // An empty list (most mailers, most of the time) answers without lower-casing the address.
      if (size === 0) return undefined;
      const at = address.lastIndexOf('@');
      return lookup(addresses.get(address.toLowerCase()), scopes, now) ?? (at < 0 || domains.size === 0 ? undefined : lookup(domains.get(address.slice(at + 1).toLowerCase()), scopes, now));
    },
    *list() {
      for (const map of [addresses, domains]) {
        for (const slot of map.values()) {
          if (slot instanceof Map) yield* slot.values();
          else yield slot;
        }
      }
    },
  };
  for (const e of initial) store.add(e);
  return store;
}

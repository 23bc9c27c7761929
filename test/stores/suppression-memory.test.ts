import { describe, expect, it } from 'vitest';
import memorySuppressionStore from '../../src/stores/suppression-memory.js';
import { testSuppressionStore } from '../../src/testing/suppression-store-conformance.js';
import type { SuppressionEntry } from '../../src/types.js';

testSuppressionStore({ name: 'memory suppression store', create: () => memorySuppressionStore() });

describe('memory suppression store: one target with one entry, then several scopes, then one again', () => {
  const NOW = Date.parse('2026-03-01T12:00:00Z');
  const entry = (e: Partial<SuppressionEntry>): SuppressionEntry => ({ address: 'Ann@Example.org', reason: 'unsubscribe', createdAt: NOW, ...e });

  it('keeps the scoped and unscoped entries of an address apart, and counts and lists them', () => {
    const store = memorySuppressionStore();
    store.add(entry({ scope: 'marketing' }));
    expect(store.find('ann@example.org', [], NOW)).toBeUndefined();
    expect(store.find('ann@example.org', ['marketing'], NOW)).toMatchObject({ scope: 'marketing' });
    store.add(entry({ scope: 'news' }));
    store.add(entry({ reason: 'hard-bounce' }));
    expect(store.size).toBe(3);
    // The unscoped entry is found first, whatever the scopes.
    expect(store.find('ANN@example.org', ['news'], NOW)).toMatchObject({ reason: 'hard-bounce' });
    expect([...(store.list() as Iterable<SuppressionEntry>)].map((e) => e.scope ?? '').sort()).toEqual(['', 'marketing', 'news']);
    expect(store.remove({ address: 'ann@example.org' })).toBe(true);
    expect(store.find('ann@example.org', ['news'], NOW)).toMatchObject({ scope: 'news' });
    expect(store.remove({ address: 'ann@example.org', scope: 'marketing' })).toBe(true);
    expect(store.remove({ address: 'ann@example.org', scope: 'marketing' })).toBe(false);
    expect(store.size).toBe(1);
    expect(store.find('ann@example.org', ['marketing'], NOW)).toBeUndefined();
    expect(store.remove({ address: 'ann@example.org', scope: 'news' })).toBe(true);
    expect(store.size).toBe(0);
    expect([...(store.list() as Iterable<SuppressionEntry>)]).toEqual([]);
  });

  it('replaces the only entry of a target in place, and removes only the scope asked for', () => {
    const store = memorySuppressionStore();
    store.add(entry({ reason: 'hard-bounce', expiresAt: NOW + 1000 }));
    store.add(entry({ reason: 'hard-bounce' }));
    expect(store.size).toBe(1);
    expect(store.find('ann@example.org', [], NOW + 5000)).toMatchObject({ reason: 'hard-bounce' });
    expect(store.remove({ address: 'ann@example.org', scope: 'marketing' })).toBe(false);
    expect(store.size).toBe(1);
  });

  it('matches a domain entry with a trailing dot, and addresses and domains with the same name apart', () => {
    const store = memorySuppressionStore([{ domain: 'Example.ORG.', reason: 'manual', createdAt: NOW }]);
    expect(store.find('bob@example.org', [], NOW)).toMatchObject({ domain: 'Example.ORG.' });
    expect(store.remove({ address: 'example.org' })).toBe(false);
    expect(store.remove({ domain: 'example.org' })).toBe(true);
    expect(store.find('bob@example.org', [], NOW)).toBeUndefined();
  });

  it('keeps a frozen entry as it is and a frozen copy of one that is not', () => {
    const store = memorySuppressionStore();
    const frozen = Object.freeze(entry({ address: 'a@example.org', reason: 'hard-bounce' }));
    const open = entry({ address: 'b@example.org', reason: 'hard-bounce' });
    store.add(frozen);
    store.add(open);
    expect(store.find('a@example.org', [], NOW)).toBe(frozen);
    const kept = store.find('b@example.org', [], NOW);
    expect(kept).not.toBe(open);
    expect(kept).toEqual(open);
    expect(Object.isFrozen(kept)).toBe(true);
  });
});

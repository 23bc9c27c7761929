import { expect, it } from 'vitest';
import memoryCorrelationStore from '../../src/stores/correlation-memory.js';
import { testCorrelationStore } from '../../src/testing/correlation-store-conformance.js';

testCorrelationStore({ name: 'memory correlation store', create: ({ now }) => memoryCorrelationStore({ now, retentionMs: 86_400_000 }), retentionMs: 86_400_000 });

it('memory correlation store: keeps at most maxEntries, the oldest go first, and validates its options', () => {
  const store = memoryCorrelationStore({ maxEntries: 2, now: () => 0 });
  for (const n of [1, 2, 3]) store.record({ jobId: `j${n}`, id: `m${n}`, messageId: `<${n}@x>`, recipients: ['a@x.test'], sentAt: 0 });
  expect([store.find('j1'), store.find('j2')?.jobId, store.find('j3')?.jobId, store.size]).toEqual([undefined, 'j2', 'j3', 2]);
  expect(() => memoryCorrelationStore({ maxEntries: 0 })).toThrow(/maxEntries/);
  expect(() => memoryCorrelationStore({ retentionMs: -1 })).toThrow(/retentionMs/);
});

import { expect, it } from 'vitest';
import memoryCorrelationStore from '../../src/stores/correlation-memory.js';
import type { SentRecord } from '../../src/types.js';
import { testCorrelationStore } from '../../src/testing/correlation-store-conformance.js';

testCorrelationStore({ name: 'memory correlation store', create: ({ now }) => memoryCorrelationStore({ now, retentionMs: 86_400_000 }), retentionMs: 86_400_000 });

it('memory correlation store: keeps at most maxEntries, the oldest go first, and validates its options', () => {
  const store = memoryCorrelationStore({ maxEntries: 2, now: () => 0 });
  for (const n of [1, 2, 3]) store.record({ jobId: `j${n}`, id: `m${n}`, messageId: `<${n}@x>`, recipients: ['a@x.test'], sentAt: 0 });
  expect([store.find('j1'), store.find('j2')?.jobId, store.find('j3')?.jobId, store.size]).toEqual([undefined, 'j2', 'j3', 2]);
  expect(() => memoryCorrelationStore({ maxEntries: 0 })).toThrow(/maxEntries/);
  expect(() => memoryCorrelationStore({ retentionMs: -1 })).toThrow(/retentionMs/);
});

it('memory correlation store: a re-recorded job is the newest, expired ones leave from the oldest end, and order holds over many evictions', () => {
  let t = 0;
  const store = memoryCorrelationStore({ maxEntries: 3, retentionMs: 100, now: () => t });
  const rec = (n: number, sentAt = t): void => store.record({ jobId: `j${n}`, id: `m${n}`, messageId: `<${n}@x>`, recipients: ['a@x.test'], sentAt });
  rec(1);
  rec(2);
  rec(3);
  rec(1); // j1 again: now the newest, so j2 is the oldest
  rec(4);
  expect([store.find('j1')?.jobId, store.find('j2'), store.find('j3')?.jobId, store.find('j4')?.jobId, store.size]).toEqual(['j1', undefined, 'j3', 'j4', 3]);
  // 5,000 more records with re-records in between: always the last three distinct jobs.
  for (let n = 5; n < 5_005; n++) {
    rec(n);
    if (n % 3 === 0) rec(n - 1);
  }
  expect(store.size).toBe(3);
  expect(['j5004', 'j5003', 'j5002', 'j5001'].map((id) => store.find(id)?.jobId)).toEqual(['j5004', 'j5003', 'j5002', undefined]);
  // Expiry: the oldest expired are dropped when the next job is recorded.
  t = 150;
  rec(9_000, 150);
  expect(store.size).toBe(1);
  expect(store.find('j9000')?.jobId).toBe('j9000');
});

it('memory correlation store: agrees with a list of the last maxEntries distinct jobs over random records, finds and expiries (its ring grows and its index is rebuilt many times)', () => {
  let seed = 11;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (const maxEntries of [1, 7, 300]) {
    let t = 1_000_000;
    const retentionMs = 5_000;
    const store = memoryCorrelationStore({ maxEntries, retentionMs, now: () => t });
    // The reference: records oldest first, one per job (a record again moves it last).
    let model: { jobId: string; sentAt: number; n: number }[] = [];
    for (let n = 0; n < 20_000; n++) {
      const jobId = `m${rnd(maxEntries * 4)}/${rnd(2)}`;
      const op = rnd(10);
      if (op < 6) {
        const sentAt = t - rnd(retentionMs + 1_000);
        store.record({ jobId, id: jobId.slice(0, -2), messageId: `<${n}@x>`, recipients: [`r${n}@x.test`], sentAt });
        model = model.filter((r) => r.jobId !== jobId);
        model.push({ jobId, sentAt, n });
        if (model.length > maxEntries) model.shift();
        // The oldest expired go first (at most 16 per record).
        for (let k = 0; k < 16 && model.length > 0 && model[0]!.sentAt + retentionMs <= t; k++) model.shift();
      } else if (op < 9) {
        const i = model.findIndex((r) => r.jobId === jobId);
        const want = i < 0 || model[i]!.sentAt + retentionMs <= t ? undefined : model[i]!;
        if (i >= 0 && want === undefined) model.splice(i, 1);
        const got = store.find(jobId);
        expect(got === undefined ? undefined : [got.jobId, got.messageId]).toEqual(want === undefined ? undefined : [want.jobId, `<${want.n}@x>`]);
      } else {
        t += rnd(300);
      }
      expect(store.size).toBe(model.length);
    }
  }
});

it('memory correlation store: a ring filled with re-recorded slots behind a live oldest record doubles and keeps order', () => {
  const store = memoryCorrelationStore({ maxEntries: 3, now: () => 0 });
  const rec = (jobId: string, n: number): void => store.record({ jobId, id: jobId, messageId: `<${n}@x>`, recipients: ['a@x.test'], sentAt: 0 });
  rec('a', 0);
  // Each re-record of 'b' leaves a skipped slot behind 'a', which stays the oldest: the ring
  // (1,024 slots for 3 entries) fills with them and must grow, several times.
  for (let n = 1; n <= 5_000; n++) rec('b', n);
  expect([store.find('a')?.messageId, store.find('b')?.messageId, store.size]).toEqual(['<0@x>', '<5000@x>', 2]);
  rec('c', 5_001);
  rec('d', 5_002); // evicts 'a', the oldest
  expect([store.find('a'), store.find('b')?.messageId, store.find('c')?.messageId, store.find('d')?.messageId, store.size]).toEqual([undefined, '<5000@x>', '<5001@x>', '<5002@x>', 3]);
  rec('e', 5_003); // evicts 'b'
  expect([store.find('b'), store.find('c')?.jobId, store.find('e')?.jobId, store.size]).toEqual([undefined, 'c', 'e', 3]);
});

it('memory correlation store: gives back every field as recorded over random records of every size (its texts fill, free and reuse many chunks)', () => {
  let seed = 29;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const word = (): string => ['a', 'ü', '日本', 'xy', 'postmaster', '\u{1F4E7}'][rnd(6)]!.repeat(1 + rnd(rnd(10) === 0 ? 300 : 8));
  for (const maxEntries of [1, 5, 200]) {
    const store = memoryCorrelationStore({ maxEntries, now: () => 0 });
    let model: SentRecord[] = [];
    for (let n = 0; n < 10_000; n++) {
      const jobId = `${word()}/${rnd(maxEntries * 3)}`;
      if (rnd(3) > 0) {
        const count = rnd(4);
        const record: SentRecord = {
          jobId,
          id: word(),
          messageId: `<${word()}@${word()}>`,
          recipients: Array.from({ length: count }, () => `${word()}@${word()}.test`),
          sentAt: n,
          ...(rnd(2) === 0 ? { from: `${word()}@x.test` } : {}),
          ...(rnd(8) === 0 ? { providerMessageId: word(), tags: { k: word() }, campaign: word() } : {}),
        };
        store.record(record);
        model = model.filter((r) => r.jobId !== jobId);
        model.push(record);
        if (model.length > maxEntries) model.shift();
      } else {
        expect(store.find(jobId)).toEqual(model.find((r) => r.jobId === jobId));
      }
      expect(store.size).toBe(model.length);
    }
    for (const r of model) expect(store.find(r.jobId)).toEqual(r);
  }
});

it('memory correlation store: a recipient list that does not fit its text is kept as given', () => {
  const store = memoryCorrelationStore({ now: () => 0 });
  const recipients = ['a\0b@x.test', 'c@x.test'];
  store.record({ jobId: 'j', id: 'm', messageId: '<1@x>', recipients, sentAt: 0 });
  expect(store.find('j')?.recipients).toEqual(recipients);
  expect(() => store.record({ jobId: 'k', id: 1 as unknown as string, messageId: '<1@x>', recipients: [], sentAt: 0 })).toThrow(/entry\.id/);
});

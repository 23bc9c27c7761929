import { afterAll } from 'vitest';
import { testCorrelationStore } from '../../src/testing/correlation-store-conformance.js';
import { testIdempotencyStore } from '../../src/testing/idempotency-store-conformance.js';
import { testReplayStore } from '../../src/testing/replay-store-conformance.js';
import { testSoftBounceCounter } from '../../src/testing/soft-bounce-conformance.js';
import { testSuppressionStore } from '../../src/testing/suppression-store-conformance.js';
import { stateTracker } from './helpers.js';

/** The suites' own epoch: the replay ids' PX is counted from the store's clock. */
const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

const states = stateTracker();
afterAll(() => states.closeAll());

testSuppressionStore({
  name: 'redis suppression store',
  create: () => states.create().suppression,
  reopen: async (previous) => (await states.reopen(previous)).suppression,
});

testIdempotencyStore({
  name: 'redis idempotency store',
  create: () => states.create().idempotency,
  reopen: async (previous) => (await states.reopen(previous)).idempotency,
});

testSoftBounceCounter({
  name: 'redis soft-bounce counter',
  create: () => states.create().softBounces,
  reopen: async (previous) => (await states.reopen(previous)).softBounces,
});

testCorrelationStore({
  name: 'redis correlation store',
  create: ({ now }) => states.create({ clock: { now }, correlation: { retentionMs: DAY } }).correlation,
  reopen: async (previous, { now }) => (await states.reopen(previous, { clock: { now }, correlation: { retentionMs: DAY } })).correlation,
  retentionMs: DAY,
});

testReplayStore({
  name: 'redis replay store',
  create: () => states.create({ clock: { now: () => T0 } }).replay,
  reopen: async (previous) => (await states.reopen(previous, { clock: { now: () => T0 } })).replay,
});

import { describe, expect, it } from 'vitest';
import { memorySoftBounceCounter as fromPolicy } from '../../src/feedback/policy.js';
import { memorySoftBounceCounter } from '../../src/stores/soft-bounce-memory.js';
import { testSoftBounceCounter } from '../../src/testing/soft-bounce-conformance.js';

testSoftBounceCounter({ name: 'memory soft-bounce counter', create: () => memorySoftBounceCounter() });

describe('memorySoftBounceCounter', () => {
  it('is still exported where it used to live', () => {
    expect(fromPolicy).toBe(memorySoftBounceCounter);
  });
});

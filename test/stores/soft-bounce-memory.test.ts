import { describe, expect, it } from 'vitest';
import { memorySoftBounceCounter as fromPolicy } from '../../src/feedback/policy.js';
import { memorySoftBounceCounter } from '../../src/stores/soft-bounce-memory.js';
import { testSoftBounceCounter } from '../../src/testing/soft-bounce-conformance.js';

testSoftBounceCounter({ name: 'memory soft-bounce counter', create: () => memorySoftBounceCounter() });

describe('memorySoftBounceCounter', () => {
  it('past maxAddresses forgets the address bounced longest ago (a new bounce makes an address recent again)', async () => {
    const counter = memorySoftBounceCounter({ maxAddresses: 2 });
    const day = 86_400_000;
    await counter.hit('a@example.com', 'e1', 1_000, day);
    await counter.hit('b@example.com', 'e2', 2_000, day);
    await counter.hit('A@example.com', 'e3', 3_000, day);
    await counter.hit('c@example.com', 'e4', 4_000, day);
    expect(counter.size).toBe(2);
    // a kept its two hits; b was forgotten and starts again from one.
    expect(await counter.hit('a@example.com', 'e5', 5_000, day)).toBe(3);
    expect(await counter.hit('b@example.com', 'e6', 6_000, day)).toBe(1);
  });

  it('refuses an option with a typo (CONFIG, nearest name)', () => {
    expect(() => memorySoftBounceCounter({ maxAdresses: 5 } as never)).toThrow(expect.objectContaining({ code: 'MAILPUSH_ERR_CONFIG', option: 'maxAdresses', message: expect.stringMatching(/did you mean `maxAddresses`\?/) }));
  });

  it('is still exported where it used to live', () => {
    expect(fromPolicy).toBe(memorySoftBounceCounter);
  });
});

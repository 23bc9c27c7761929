import { describe, expect, it } from 'vitest';
import { DomainRanking, OTHER_DOMAIN } from '../../src/metrics/ranking.js';

const value = (r: DomainRanking, outcome: string, domain: string): number | undefined =>
  r.series().find((s) => s.labels.outcome === outcome && s.labels.domain === domain)?.value;

describe('DomainRanking (bounded domain labels)', () => {
  it('gives free labels to the first domains seen and counts the rest as other', () => {
    const r = new DomainRanking(2, 60_000, () => 0);
    r.count('a.test', 'sent', 1);
    r.count('b.test', 'sent', 2);
    r.count('c.test', 'sent', 5);
    r.count('c.test', 'failed', 1);
    expect(r.label('a.test')).toBe('a.test');
    expect(r.label('c.test')).toBe(OTHER_DOMAIN);
    expect(value(r, 'sent', 'a.test')).toBe(1);
    expect(value(r, 'sent', 'b.test')).toBe(2);
    expect(value(r, 'sent', OTHER_DOMAIN)).toBe(5);
    expect(value(r, 'failed', OTHER_DOMAIN)).toBe(1);
    expect(new Set(r.series().map((s) => s.labels.domain)).size).toBe(3);
  });

  it('re-ranks to the busiest domains: a promoted domain starts a new series at 0, a demoted one disappears, no series goes down', () => {
    let now = 0;
    const r = new DomainRanking(1, 1_000, () => now);
    r.count('early.test', 'sent', 1);
    for (let i = 0; i < 10; i++) r.count('busy.test', 'sent', 1);
    expect(value(r, 'sent', OTHER_DOMAIN)).toBe(10);
    r.maybeRerank(); // too soon: nothing changes
    expect(r.label('busy.test')).toBe(OTHER_DOMAIN);
    now = 1_000;
    r.maybeRerank();
    expect(r.label('busy.test')).toBe('busy.test');
    expect(r.label('early.test')).toBe(OTHER_DOMAIN);
    expect(value(r, 'sent', 'early.test')).toBeUndefined();
    expect(value(r, 'sent', 'busy.test')).toBeUndefined(); // nothing counted under its own label yet
    expect(value(r, 'sent', OTHER_DOMAIN)).toBe(10); // what busy.test did before stays in other
    r.count('busy.test', 'sent', 3);
    r.count('early.test', 'sent', 1);
    expect(value(r, 'sent', 'busy.test')).toBe(3);
    expect(value(r, 'sent', OTHER_DOMAIN)).toBe(11);
  });

  it('follows recent traffic (scores halve at each re-rank) and keeps memory bounded', () => {
    let now = 0;
    const r = new DomainRanking(1, 1, () => now);
    for (let i = 0; i < 100; i++) r.count('old.test', 'sent', 1);
    now = 1;
    r.maybeRerank();
    expect(r.label('old.test')).toBe('old.test');
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 20; i++) r.count('new.test', 'sent', 1);
      now++;
      r.maybeRerank();
    }
    expect(r.label('new.test')).toBe('new.test');
    // 5,000 distinct domains seen: exact counts are kept for a bounded number of them.
    for (let i = 0; i < 5_000; i++) r.count(`d${i}.test`, 'sent', 1);
    expect(r.totals(100_000).length).toBeLessThanOrEqual(1_000);
    expect(r.totals(1)[0]?.domain).toBe('new.test');
  });
});

import { describe, expect, it } from 'vitest';
import { TextRing, hashOfKey, nulCount } from '../../src/queue/text-ring.js';

describe('TextRing', () => {
  it('agrees with a FIFO model over random adds, drops and finds, with colliding hashes wrapping the index', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (const hashes of [3, 1_000, 0x3fffffff]) {
      const ring = new TextRing<number>();
      // Keys oldest first, with their texts; a key added again moves last.
      let model: { key: string; text: string; time: number }[] = [];
      // Few hash values: long probe runs that wrap around the end of the index.
      const hashOf = (key: string): number => (hashes === 0x3fffffff ? hashOfKey(key) : (hashOfKey(key) % hashes) + 0x3ffffff0);
      for (let n = 0; n < 20_000; n++) {
        const key = `k${rnd(400)}`;
        const op = rnd(10);
        if (op < 5) {
          const text = `${key}\0${'é'.repeat(rnd(rnd(20) === 0 ? 500 : 20))}${n}`;
          ring.add(key, hashOf(key), text, n, n % 7 === 0 ? n : undefined);
          model = model.filter((r) => r.key !== key);
          model.push({ key, text, time: n });
        } else if (op < 7 && model.length > 0) {
          // Drop the oldest, or one by key.
          const victim = op === 5 ? model[0]! : model[rnd(model.length)]!;
          const slot = op === 5 ? ring.oldest() : ring.find(victim.key, hashOf(victim.key));
          expect(ring.textAt(slot)).toBe(victim.text);
          ring.drop(slot);
          model = model.filter((r) => r !== victim);
        } else {
          const slot = ring.find(key, hashOf(key));
          const want = model.find((r) => r.key === key);
          expect(slot < 0 ? undefined : [ring.textAt(slot), ring.timeAt(slot), ring.auxAt(slot)]).toEqual(want === undefined ? undefined : [want.text, want.time, want.time % 7 === 0 ? want.time : undefined]);
        }
        expect(ring.size).toBe(model.length);
      }
      for (const r of model) expect(ring.textAt(ring.find(r.key, hashOf(r.key)))).toBe(r.text);
      ring.clear();
      expect([ring.size, ring.oldest()]).toEqual([0, -1]);
    }
  });

  it('stays small when one key is added again and again behind a live oldest record', () => {
    const ring = new TextRing<never>();
    ring.add('a', hashOfKey('a'), 'a\0first', 0, undefined);
    // Each add of 'b' leaves the slot of the one before dead, behind the live 'a'.
    for (let n = 1; n <= 100_000; n++) ring.add('b', hashOfKey('b'), `b\0${n}`, n, undefined);
    expect(ring.size).toBe(2);
    expect(ring.slots).toBeLessThanOrEqual(32);
    // 'a' holds its chunk; the chunks 'b' leaves behind are written again.
    expect(ring.bytes).toBeLessThanOrEqual(6 * 65_536);
    expect([ring.textAt(ring.oldest()), ring.textAt(ring.find('b', hashOfKey('b')))]).toEqual(['a\0first', `b\0${100_000}`]);
  });

  it('writes texts again into chunks whose records are gone: bytes stay bounded over 200,000 adds', () => {
    const ring = new TextRing<never>();
    let most = 0;
    for (let n = 0; n < 200_000; n++) {
      const key = `job-${n}`;
      ring.add(key, hashOfKey(key), `${key}\0${'x'.repeat(n % 300)}`, n, undefined, 1_000);
      most = Math.max(most, ring.bytes);
    }
    expect(ring.size).toBe(1_000);
    // 1,000 texts of ~160 B: 160 KB, in 64 KiB chunks (plus the spare ones kept).
    expect(most).toBeLessThanOrEqual(12 * 65_536);
    for (const n of [199_000, 199_500, 199_999]) expect(ring.textAt(ring.find(`job-${n}`, hashOfKey(`job-${n}`)))).toBe(`job-${n}\0${'x'.repeat(n % 300)}`);
    expect(ring.find('job-198999', hashOfKey('job-198999'))).toBe(-1);
  });

  it('keeps texts longer than a chunk, non-ASCII keys and texts, and objects across resizes', () => {
    const ring = new TextRing<{ n: number }>();
    const texts = new Map<string, string>();
    for (let n = 0; n < 3_000; n++) {
      const key = n % 3 === 0 ? `clé-${n}-😀` : `k${n}`;
      const body = n % 500 === 0 ? 'é'.repeat(40_000) + '\uD800' + '😀'.repeat(10) : `${n}\0ü`;
      const text = `${key}\0${body}`;
      ring.add(key, hashOfKey(key), text, n, n % 5 === 0 ? { n } : undefined);
      // A lone surrogate comes back as U+FFFD, as Buffer#write writes it.
      texts.set(key, text.replace('\uD800', '\uFFFD'));
      // Every tenth record is dropped by key: dead slots, so later resizes copy slot by slot.
      if (n % 10 === 9) {
        const victim = n % 3 === 0 ? `clé-${n - 3}-😀` : `k${n - 3}`;
        if (texts.delete(victim)) ring.drop(ring.find(victim, hashOfKey(victim)));
      }
    }
    expect(ring.size).toBe(texts.size);
    for (const [key, text] of texts) {
      const slot = ring.find(key, hashOfKey(key));
      const n = ring.timeAt(slot);
      expect([ring.textAt(slot), ring.auxAt(slot)]).toEqual([text, n % 5 === 0 ? { n } : undefined]);
    }
    // A key replaced by a record of the same key: one record, the new text and object.
    ring.add('k1', hashOfKey('k1'), 'k1\0again', 5_000, { n: 5_000 });
    expect([ring.size, ring.textAt(ring.find('k1', hashOfKey('k1'))), ring.auxAt(ring.find('k1', hashOfKey('k1')))]).toEqual([texts.size, 'k1\0again', { n: 5_000 }]);
  });

  it('computes the hash itself (-1) as hashOfKey does, from the bytes of an ASCII text or from a non-ASCII key', () => {
    const ring = new TextRing<never>();
    const keys = ['a', 'job-1/0', 'clé', 'k😀', 'ascii-key', 'x'.repeat(300)];
    // An ASCII key with a non-ASCII text takes the string's hash too.
    for (const key of keys) ring.add(key, -1, `${key}\0${key === 'ascii-key' ? 'ü' : 'v'}`, 0, undefined);
    for (const key of keys) expect(ring.textAt(ring.find(key, hashOfKey(key)))).toBe(`${key}\0${key === 'ascii-key' ? 'ü' : 'v'}`);
    // Replacing through -1 finds the record added with hashOfKey, and the other way round.
    ring.add('job-1/0', hashOfKey('job-1/0'), 'job-1/0\0w', 1, undefined);
    ring.add('a', -1, 'a\0w', 1, undefined);
    expect([ring.size, ring.textAt(ring.find('job-1/0', hashOfKey('job-1/0'))), ring.textAt(ring.find('a', hashOfKey('a')))]).toEqual([keys.length, 'job-1/0\0w', 'a\0w']);
  });

  it('counts the NUL separators of a text', () => {
    expect([nulCount(''), nulCount('a'), nulCount('a\0b\0'), nulCount('\0\0\0')]).toEqual([0, 0, 2, 3]);
  });
});

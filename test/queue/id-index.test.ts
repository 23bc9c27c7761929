import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { IdIndex, IdTable } from '../../src/queue/id-index.js';

interface Rec {
  readonly message: { readonly id: string };
  readonly n: number;
}

const rec = (id: string, n = 0): Rec => ({ message: { id }, n });

describe('IdTable', () => {
  it('answers like a Map over a long mix of sets, replacements, gets and deletes (with compactions)', () => {
    const table = new IdTable<Rec>((r) => r.message.id);
    const model = new Map<string, Rec>();
    // Look-alike ids: one character apart at either end, and long ones sharing a prefix.
    const idOf = (i: number): string => (i % 3 === 0 ? `${i}/welcome` : i % 3 === 1 ? `msg_${i}` : `${'p'.repeat(300)}${i}`);
    let x = 12345;
    for (let step = 0; step < 40_000; step++) {
      x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
      const id = idOf(x % 8000);
      const op = x % 7;
      if (op < 3) {
        const r = rec(id, step);
        table.set(id, r);
        model.set(id, r);
      } else if (op < 5) {
        expect(table.delete(id)).toBe(model.delete(id));
      } else {
        expect(table.get(id)).toBe(model.get(id));
        expect(table.has(id)).toBe(model.has(id));
      }
      expect(table.size).toBe(model.size);
      if (step % 5000 === 0) expect([...table.values()]).toEqual([...model.values()]);
    }
    expect([...table.values()]).toEqual([...model.values()]);
    // Deleting everything leaves it empty and usable.
    for (const id of [...model.keys()]) table.delete(id);
    expect(table.size).toBe(0);
    expect([...table.values()]).toEqual([]);
    table.set('again', rec('again'));
    expect(table.get('again')?.message.id).toBe('again');
  });

  it('refuses a value whose own id is not the key, and finds nothing for a key that is not a string (as a Map)', () => {
    const table = new IdTable<Rec>((r) => r.message.id);
    expect(() => table.set('a', rec('b'))).toThrow(TypeError);
    table.set('1', rec('1'));
    for (const key of [undefined, null, 1, {}]) {
      expect(table.get(key as never)).toBeUndefined();
      expect(table.has(key as never)).toBe(false);
      expect(table.delete(key as never)).toBe(false);
    }
  });

  it('costs under 30 B per entry, where a Map entry costs ~37-56 B', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = (): number => {
      for (let i = 0; i < 3; i++) gc();
      // Typed array contents (the id indexes) are outside the JS heap: count them too.
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const n = 50_000;
    const recs = Array.from({ length: n }, (_, i) => rec(Buffer.from(`msg_${i.toString(16).padStart(32, '0')}`, 'latin1').toString('latin1')));
    let before = heap();
    const map = new Map<string, Rec>();
    for (const r of recs) map.set(r.message.id, r);
    const perMapEntry = (heap() - before) / n;
    before = heap();
    const table = new IdTable<Rec>((r) => r.message.id);
    for (const r of recs) table.set(r.message.id, r);
    const perTableEntry = (heap() - before) / n;
    expect(table.size + map.size).toBe(2 * recs.length);

    expect(perTableEntry).toBeLessThan(30);
    expect(perTableEntry).toBeLessThan(perMapEntry);
  });
});

describe('IdIndex', () => {
  it('finds slots by id, skips freed slots and keeps working across rebuilds', () => {
    const ids: (string | undefined)[] = [];
    const index = new IdIndex((slot) => ids[slot]);
    for (let i = 0; i < 1000; i++) {
      ids.push(`id${i}`);
      index.add(i, `id${i}`);
    }
    for (let i = 0; i < 1000; i += 2) ids[i] = undefined;
    for (let i = 0; i < 1000; i++) expect(index.find(`id${i}`)).toBe(i % 2 === 0 ? -1 : i);
    // The owner compacts its slots and renumbers them.
    const kept = ids.filter((id) => id !== undefined);
    ids.length = 0;
    ids.push(...kept);
    index.rebuild(ids.length);
    for (let i = 0; i < kept.length; i++) expect(index.find(kept[i] as string)).toBe(i);
    expect(index.find('id0')).toBe(-1);
  });
});

import { describe, expect, it } from 'vitest';
import { Deque } from '../../src/queue/deque.js';
import { TimeHeap } from '../../src/queue/heap.js';

describe('Deque', () => {
  it('keeps FIFO order across growth and wrap-around, with unshift at the head', () => {
    const d = new Deque<number>(2);
    const model: number[] = [];
    let n = 0;
    for (let round = 0; round < 2000; round++) {
      const op = (round * 7919) % 5;
      if (op < 2) {
        d.push(n);
        model.push(n++);
      } else if (op === 2) {
        d.unshift(n);
        model.unshift(n++);
      } else {
        expect(d.shift()).toBe(model.shift());
      }
      expect(d.length).toBe(model.length);
      expect(d.peek()).toBe(model[0]);
    }
    expect([...d]).toEqual(model);
  });
});

describe('TimeHeap', () => {
  it('pops in time order, ties in insertion order, only when due', () => {
    const h = new TimeHeap<string>();
    const times = Array.from({ length: 500 }, (_, i) => (i * 7919) % 97);
    times.forEach((t, i) => h.push(t, `${t}:${i}`));
    expect(h.popDue(-1)).toBeUndefined();
    const out: string[] = [];
    let item = h.popDue(1000);
    while (item !== undefined) {
      out.push(item);
      item = h.popDue(1000);
    }
    const expected = times.map((t, i) => ({ t, i })).sort((a, b) => a.t - b.t || a.i - b.i).map(({ t, i }) => `${t}:${i}`);
    expect(out).toEqual(expected);
    expect(h.size).toBe(0);
    expect(h.peekTime()).toBe(Infinity);
  });
});

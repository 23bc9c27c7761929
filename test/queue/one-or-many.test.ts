import { describe, expect, it } from 'vitest';
import { copyOf, countOf, indexOfItem, itemAt, itemsOf, oneOrMany, withAdded, withRemoved, withReplaced } from '../../src/queue/one-or-many.js';
import type { OneOrMany } from '../../src/queue/one-or-many.js';

interface Item {
  readonly n: number;
}

describe('one-or-many layout', () => {
  it('holds one item itself and several in an array, through adds, replacements and removals', () => {
    const items: Item[] = Array.from({ length: 6 }, (_, n) => ({ n }));
    const [a, b, c, d] = items as [Item, Item, Item, Item];
    let held: OneOrMany<Item> = oneOrMany([a]);
    expect(held).toBe(a);
    expect(countOf(held)).toBe(1);
    expect(itemAt(held, 0)).toBe(a);
    expect(itemAt(held, 1)).toBeUndefined();
    expect(itemsOf(held)).toEqual([a]);
    const copy = copyOf(held);
    copy.push(b);
    expect(countOf(held)).toBe(1);

    held = withAdded(held, []);
    expect(held).toBe(a);
    held = withAdded(held, [b, c]);
    expect(itemsOf(held)).toEqual([a, b, c]);
    expect(indexOfItem(held, c)).toBe(2);
    expect(indexOfItem(held, d)).toBe(-1);
    held = withReplaced(held, 1, d);
    expect(itemsOf(held)).toEqual([a, d, c]);
    held = withRemoved(held, 0);
    expect(itemsOf(held)).toEqual([d, c]);
    held = withRemoved(held, indexOfItem(held, c));
    held = withRemoved(held, indexOfItem(held, d));
    expect(countOf(held)).toBe(0);
    expect(itemsOf(held)).toEqual([]);
    // Adding to an empty array gives the single layout again.
    held = withAdded(held, [b]);
    expect(held).toBe(b);
    expect(withReplaced(held, 0, c)).toBe(c);
    const emptied = withRemoved(held, 0);
    expect(Array.isArray(emptied) && emptied.length === 0).toBe(true);
  });

  it('copies the array it is given (the caller keeps its own)', () => {
    const list: Item[] = [{ n: 1 }, { n: 2 }];
    const held = oneOrMany(list);
    list.pop();
    expect(countOf(held)).toBe(2);
    expect(oneOrMany([])).toEqual([]);
  });
});

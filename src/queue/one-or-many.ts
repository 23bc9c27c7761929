/**
 * One item or several: the item itself while there is one, an array once there are more. Most
 * messages have one job, and an array of one costs ~56 B per queued message (the array and its
 * backing store) for as long as the message waits. The mailer's records and the memory queue
 * store hold their jobs this way.
 *
 * `T` must never be an array itself (`Array.isArray` tells the two layouts apart).
 *
 * @module
 * @internal
 */

/** One item, or an array of any length (empty once the last item is gone). */
export type OneOrMany<T extends object> = T | T[];

/**
 * The layout of `items`: the first item when there is exactly one, else a copy of the array.
 *
 * @example
 * ```ts
 * const held = oneOrMany([job]); // job itself
 * ```
 */
export function oneOrMany<T extends object>(items: readonly T[]): OneOrMany<T> {
  return items.length === 1 ? (items[0] as T) : items.slice();
}

/**
 * How many items are held.
 *
 * @example
 * ```ts
 * countOf(oneOrMany([a, b])); // 2
 * ```
 */
export function countOf<T extends object>(held: OneOrMany<T>): number {
  return Array.isArray(held) ? held.length : 1;
}

/**
 * The item at `i`, or undefined.
 *
 * @example
 * ```ts
 * itemAt(job, 0); // job
 * ```
 */
export function itemAt<T extends object>(held: OneOrMany<T>, i: number): T | undefined {
  if (Array.isArray(held)) return held[i];
  return i === 0 ? held : undefined;
}

/**
 * The items as an array: the held array itself (do not change it) or a new array of one.
 *
 * @example
 * ```ts
 * for (const job of itemsOf(rec.held)) cancel(job);
 * ```
 */
export function itemsOf<T extends object>(held: OneOrMany<T>): readonly T[] {
  return Array.isArray(held) ? held : [held];
}

/**
 * A new array of the items (the caller may change it).
 *
 * @example
 * ```ts
 * const jobs = copyOf(held);
 * ```
 */
export function copyOf<T extends object>(held: OneOrMany<T>): T[] {
  return Array.isArray(held) ? held.slice() : [held];
}

/**
 * Adds items at the end: an array is changed in place, a single item becomes an array.
 * Returns the layout to keep.
 *
 * @example
 * ```ts
 * rec.held = withAdded(rec.held, [job]);
 * ```
 */
export function withAdded<T extends object>(held: OneOrMany<T>, items: readonly T[]): OneOrMany<T> {
  if (items.length === 0) return held;
  if (!Array.isArray(held)) return [held, ...items];
  if (held.length === 0) return oneOrMany(items);
  for (let i = 0; i < items.length; i++) held.push(items[i] as T);
  return held;
}

/**
 * Replaces the item at `i` (which must exist). Returns the layout to keep.
 *
 * @example
 * ```ts
 * held = withReplaced(held, 0, newer);
 * ```
 */
export function withReplaced<T extends object>(held: OneOrMany<T>, i: number, item: T): OneOrMany<T> {
  if (!Array.isArray(held)) return item;
  held[i] = item;
  return held;
}

/**
 * Removes the item at `i` (which must exist): an array is changed in place, the last single
 * item leaves an empty array. Returns the layout to keep.
 *
 * @example
 * ```ts
 * held = withRemoved(held, indexOfItem(held, job));
 * ```
 */
export function withRemoved<T extends object>(held: OneOrMany<T>, i: number): OneOrMany<T> {
  if (!Array.isArray(held)) return [];
  held.splice(i, 1);
  return held;
}

/**
 * Index of `item` (the same object), or -1.
 *
 * @example
 * ```ts
 * indexOfItem(held, job); // 0
 * ```
 */
export function indexOfItem<T extends object>(held: OneOrMany<T>, item: T): number {
  if (!Array.isArray(held)) return held === item ? 0 : -1;
  return held.indexOf(item);
}

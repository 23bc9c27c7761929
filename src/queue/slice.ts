/**
 * Time slicing: long runs of synchronous and microtask work (a tight `await send()` loop, a
 * `sendMany` of a million recipients, a dispatch pump draining an instant transport, recovery
 * of a large journal, a batch of bounces) never hold the host's event loop for more than a
 * few milliseconds. Promises that resolve at once chain as microtasks, and timers, I/O and
 * token-bucket refills wait until the chain ends; so every such loop asks {@link slice}
 * whether its slice is used up and, only then, awaits a `setImmediate`.
 *
 * Cost: one `performance.now()` per check and one `setImmediate` per macrotask that checks
 * (not per message): the first check of a macrotask notes the time and arms an immediate that
 * marks the macrotask's end.
 *
 * @module
 * @internal
 */

import { performance } from 'node:perf_hooks';

/**
 * Longest run of work, in ms, before a check asks to yield. Short, because a timer that falls
 * due during a slice runs at its end: a 10 ms interval keeps ~90% of its ticks only while the
 * average lateness stays near 1 ms. A yield costs a few µs.
 */
export const SLICE_MS = 1;

// Taken at load: fake timers installed later by a host's tests must not stall the mailer.
const immediate = globalThis.setImmediate;

let sliceStart = 0;
/** An immediate is armed: the current macrotask (with its microtasks) has not ended yet. */
let open = false;

function closeSlice(): void {
  open = false;
}

/**
 * True when the current macrotask, with its microtasks, has run for more than `SLICE_MS`:
 * the caller should `await yieldNow()` before more work.
 */
export function sliceUsed(): boolean {
  const now = performance.now();
  if (!open) {
    open = true;
    sliceStart = now;
    immediate(closeSlice);
    return false;
  }
  return now - sliceStart > SLICE_MS;
}

/** Resolves after a turn of the event loop (timers and I/O run first). */
export function yieldNow(): Promise<void> {
  return new Promise((resolve) => immediate(resolve));
}

/**
 * Resolves at once (`undefined`, nothing to await) while the slice lasts, else a promise that
 * resolves after a turn of the event loop. Use as `const y = slice(); if (y) await y;` so that
 * the common case adds no await and no microtask.
 *
 * @example
 * ```ts
 * for (const entry of entries) {
 *   const y = slice();
 *   if (y !== undefined) await y;
 *   load(entry);
 * }
 * ```
 */
export function slice(): Promise<void> | undefined {
  return sliceUsed() ? yieldNow() : undefined;
}

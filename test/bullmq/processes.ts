import { fileURLToPath } from 'node:url';
import { startJsonChild } from '../helpers/child-process.js';
import type { JsonChild } from '../helpers/child-process.js';

/** A child process (a test fixture run under the same Node with tsx) and its JSON lines. */
export type Child = JsonChild;

/** Starts `test/fixtures/<fixture>` with `args`. */
export function startChild(fixture: string, args: readonly string[]): Child {
  return startJsonChild(fileURLToPath(new URL(`../fixtures/${fixture}`, import.meta.url)), args);
}

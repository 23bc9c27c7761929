import { fileURLToPath } from 'node:url';
import type { SqliteDriverName } from '../../src/stores/sqlite-driver.js';
import { startJsonChild } from '../helpers/child-process.js';
import type { JsonChild } from '../helpers/child-process.js';

const CHILD = fileURLToPath(new URL('./fixtures/sqlite-child.ts', import.meta.url));

/** A child process running test/stores/fixtures/sqlite-child.ts, with its JSON lines. */
export type Child = JsonChild;

/** Starts the child fixture under the same Node (and tsx), optionally as another user. */
export function startChild(args: readonly [mode: string, path: string, driver: SqliteDriverName, ...rest: string[]], asUser?: number): Child {
  return startJsonChild(CHILD, args, asUser === undefined ? {} : { asUser });
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBetterSqlite3, loadNodeSqlite } from '../../src/stores/sqlite-driver.js';
import type { SqliteDriverName } from '../../src/stores/sqlite-driver.js';
import type { NormalizedMessage } from '../../src/types.js';

function usable(driver: SqliteDriverName): boolean {
  try {
    if (driver === 'node:sqlite') return loadNodeSqlite() !== undefined;
    // Installed but built for another Node (CI's second Node version) counts as unavailable.
    const Database = loadBetterSqlite3();
    new Database(':memory:').close();
    return true;
  } catch {
    return false;
  }
}

/** The drivers this Node can run: node:sqlite on Node 22.13+/24, better-sqlite3 where it is built. */
export const DRIVERS: readonly SqliteDriverName[] = (['node:sqlite', 'better-sqlite3'] as const).filter(usable);

/** A temporary folder, removed by `cleanup()`. */
export function tempDir(prefix = 'mailpush-sqlite-'): { readonly dir: string; file(name?: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  return {
    dir,
    file: (name) => join(dir, name ?? `store-${++n}.db`),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A normalized one-recipient message `id` to `to`, with the given fields over the defaults. */
export function plainMessage(id: string, to: string, fields: Partial<NormalizedMessage> = {}): NormalizedMessage {
  return {
    id,
    messageId: `<${id}@test.example>`,
    from: { address: 'app@example.com' },
    to: [{ address: to }],
    cc: [],
    bcc: [],
    replyTo: [],
    subject: 'hi',
    text: 'hello',
    headers: [],
    attachments: [],
    tags: {},
    metadata: {},
    category: 'transactional',
    returnPath: 'app@example.com',
    date: 0,
    sizeBytes: 100,
    ...fields,
  };
}

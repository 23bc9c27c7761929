/**
 * The SQLite store keeps its job count in the file (the owner row), written in the same
 * transaction as the jobs, so that opening a large backlog does not count it (a scan that held
 * the event loop for 50-130 ms at 100,000 jobs). A file whose owner row has no count (written
 * by an older mailpush) is counted once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openConnection } from '../../src/stores/sqlite-driver.js';
import { sqliteStore } from '../../src/stores/sqlite.js';
import type { Job, StoredEntry } from '../../src/types.js';
import { DRIVERS, plainMessage, tempDir } from './sqlite-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

let n = 0;
function entry(jobs = 1): StoredEntry {
  const id = `msg_count_${++n}`;
  const message = plainMessage(id, `user${n}@a.test`);
  const list: Job[] = [];
  for (let i = 0; i < jobs; i++) list.push({ id: `${id}/${i}`, messageRef: id, domain: `d${i}.test`, recipients: [`u@d${i}.test`], priority: 'normal', state: 'ready', attempt: 0, createdAt: 0, runAt: 0 });
  return { message, jobs: list };
}

function ownerRow(path: string, driver: (typeof DRIVERS)[number]): Record<string, unknown> {
  const conn = openConnection(path, { driver, lib: undefined });
  try {
    return JSON.parse(String(conn.prepare("SELECT value FROM meta WHERE key = 'owner'").get()?.value)) as Record<string, unknown>;
  } finally {
    conn.close();
  }
}

describe.each(DRIVERS)('sqlite job count (%s)', (driver) => {
  it('keeps the count across adds, updates and removes, and reads it back at open', async () => {
    const path = tmp.file();
    const store = sqliteStore({ path, driver });
    const a = entry(3);
    const b = entry(1);
    await Promise.all([store.queue.add(a), store.queue.add(b)]);
    await store.queue.remove(a.jobs[0]!);
    await store.queue.update({ ...a.jobs[1]!, attempt: 1 });
    expect(store.queue.size()).toBe(3);
    await store.close();
    expect(ownerRow(path, driver).jobs).toBe(3);
    const again = sqliteStore({ path, driver });
    expect(again.queue.size()).toBe(3);
    await again.queue.remove(b.jobs[0]!);
    await again.close();
    expect(ownerRow(path, driver).jobs).toBe(2);
  });

  it('counts the jobs of a file whose owner row keeps no count', async () => {
    const path = tmp.file();
    const store = sqliteStore({ path, driver });
    await Promise.all([store.queue.add(entry(2)), store.queue.add(entry(1))]);
    await store.close();
    // What an older mailpush leaves behind: an owner row without `jobs`.
    const conn = openConnection(path, { driver, lib: undefined });
    conn.prepare("UPDATE meta SET value = ? WHERE key = 'owner'").run(JSON.stringify({ pid: 1, host: 'old', driver, openedAt: new Date(0).toISOString() }));
    conn.close();
    const again = sqliteStore({ path, driver });
    expect(again.queue.size()).toBe(3);
    await again.close();
    expect(ownerRow(path, driver).jobs).toBe(3);
  });
});

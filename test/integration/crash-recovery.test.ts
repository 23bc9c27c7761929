/**
 * Accepted means spooled, with real processes: a child process queues 10,000 messages over
 * SMTP with the SQLite store and is killed with SIGKILL (early, mid-burst, while retries are
 * pending); a second child on the same file finishes the work. Every message whose `send()`
 * resolved reaches the sink at least once, duplicates are bounded by what was in flight and
 * carry the same Message-ID, nothing stays pending and the file passes an integrity check.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openConnection } from '../../src/stores/sqlite-driver.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import type { SmtpSink } from '../../src/testing/smtp-sink.js';

const CHILD = fileURLToPath(new URL('../fixtures/crash-child.ts', import.meta.url));
const TOTAL = 10_000;
/** How long the first process may take to reach the kill point (about 11 to 21 s at a load average of 15, 89 s at 25). */
const KILL_POINT_MS = 150_000;
/** How long the second process may take to deliver what the first left (17 to 20 s at a load average of 15, 72 to 106 s at 25). */
const RESUME_MS = 200_000;

interface Run {
  readonly child: ChildProcess;
  readonly acks: Set<number>;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  /** The process has exited and its output was read. */
  readonly done: boolean;
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks = new Set<number>();
  const lines: string[] = [];
  let rest = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      if (line.startsWith('ack ')) acks.add(Number(line.slice(4)));
      else lines.push(line);
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const run: { child: ChildProcess; acks: Set<number>; lines: string[]; exited: Promise<number | null>; done: boolean } = { child, acks, lines, exited: undefined as never, done: false };
  // Done once the process exited and its stdout was read to the end (the acks still in the
  // pipe at the exit count), but not waiting for 'close': that also waits for stderr, which a
  // helper process of tsx may hold open after the child is gone. Bounded, all the same.
  const stdoutEnded = new Promise<void>((resolve) => child.stdout!.on('end', resolve));
  run.exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      void Promise.race([stdoutEnded, new Promise((r) => setTimeout(r, 5_000))]).then(() => {
        run.done = true;
        if (code !== 0 && code !== null) lines.push(`stderr: ${stderr}`);
        resolve(code);
      });
    }),
  );
  return run;
}

async function until(predicate: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** seq -> Message-IDs received for it. */
function received(sink: SmtpSink): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const m of sink.messages) {
    const head = (m.raw as Buffer).subarray(0, 4096).toString('latin1');
    const seq = Number(/^Subject: seq (\d+)/im.exec(head)?.[1]);
    const id = /^Message-ID: (.+)$/im.exec(head)?.[1]?.trim() ?? '';
    out.set(seq, [...(out.get(seq) ?? []), id]);
  }
  return out;
}

const dirs: string[] = [];
const sinks: SmtpSink[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function crashAndResume(killWhen: (sink: SmtpSink, first: Run) => boolean, sinkRules: Parameters<typeof startSmtpSink>[0] = {}, onSink?: (sink: SmtpSink) => void, describe: () => string = () => '') {
  const dir = mkdtempSync(join(tmpdir(), 'mailpush-crash-'));
  dirs.push(dir);
  const db = join(dir, 'mail.db');
  const sink = await startSmtpSink({ disableStartTls: true, keepRaw: true, ...sinkRules });
  sinks.push(sink);
  onSink?.(sink);

  const started = Date.now();
  const first = run(['send', db, String(sink.port), String(TOTAL)]);
  children.push(first.child);
  await until(() => killWhen(sink, first) || first.done, KILL_POINT_MS, () => `the kill point (${first.acks.size} acks, ${sink.count} delivered${describe()}; ${first.lines.join(' | ')})`);
  // The kill must find the child alive: one that ended on its own proves nothing.
  expect(first.done, first.lines.join('\n')).toBe(false);
  first.child.kill('SIGKILL');
  await first.exited;
  const acked = new Set(first.acks);
  const deliveredAtKill = sink.count;
  const killedAfterMs = Date.now() - started;

  const second = run(['resume', db, String(sink.port)]);
  children.push(second.child);
  // Bounded, so that a resume that hangs fails with what it had done rather than at the test's
  // timeout; one that closed its mailer but does not exit fails 15 s later with the handles
  // that keep it alive (see the fixture).
  const resumedAt = Date.now();
  let closedAt: number | undefined;
  while (!second.done) {
    if (closedAt === undefined && second.lines.some((l) => l.startsWith('pending '))) closedAt = Date.now();
    if (closedAt !== undefined && Date.now() - closedAt > 15_000) throw new Error(`the resumed process closed its mailer but did not exit within 15 s; its output: ${second.lines.join(' | ')}`);
    if (Date.now() - resumedAt > RESUME_MS) throw new Error(`the resumed process did not finish within ${RESUME_MS} ms: the sink has ${sink.count} messages (${deliveredAtKill} at the kill, ${acked.size} acknowledged); its output: ${second.lines.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const code = await second.exited;
  expect(code, second.lines.join('\n')).toBe(0);
  expect(second.lines).toContain('pending 0');

  const got = received(sink);
  const lost = [...acked].filter((seq) => !got.has(seq));
  const duplicated = [...got].filter(([, ids]) => ids.length > 1);
  // At-least-once: nothing acknowledged is lost.
  expect(lost).toEqual([]);
  // Duplicates are at most the jobs in flight at the kill (5 connections, a batch being handed over), each with one Message-ID.
  expect(duplicated.length).toBeLessThanOrEqual(10);
  for (const [, ids] of duplicated) expect(new Set(ids).size).toBe(1);

  const check = openConnection(db, { driver: 'auto' });
  try {
    expect(check.prepare('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }]);
  } finally {
    check.close();
  }
  const summary = { acked: acked.size, deliveredAtKill, delivered: got.size, duplicates: duplicated.length, killedAfterMs, resumedInMs: Date.now() - started - killedAfterMs };
  console.log(`crash test: ${JSON.stringify(summary)}`);
  return summary;
}

describe('crash recovery with the SQLite store (real processes, SIGKILL)', () => {
  it('loses nothing acknowledged when killed early', async () => {
    const r = await crashAndResume((sink, first) => first.acks.size >= 300 && sink.count >= 50);
    expect(r.acked).toBeGreaterThanOrEqual(300);
  }, 400_000);

  it('loses nothing acknowledged when killed mid-burst', async () => {
    const r = await crashAndResume((sink) => sink.count >= 3_000);
    expect(r.deliveredAtKill).toBeGreaterThanOrEqual(3_000);
    expect(r.acked).toBeGreaterThan(r.deliveredAtKill - 10);
  }, 400_000);

  it('loses nothing acknowledged when killed while retries are pending', async () => {
    // Every message to d3.test is deferred once (451 at its first RCPT), so retries are
    // scheduled (400 ms later) at the kill.
    let sinkRef: SmtpSink | undefined;
    let deferred = 0;
    const r = await crashAndResume((sink) => deferred >= 200 && sink.count >= 2_000, {
      rules: [
        {
          match: (rcpt: string) => {
            if (!rcpt.endsWith('@d3.test') || sinkRef?.attempts(rcpt) !== 1) return false;
            deferred++;
            return true;
          },
          reply: 'tempfail',
        },
      ],
    }, (sink) => {
      sinkRef = sink;
    }, () => `, ${deferred} deferred`);
    expect(r.acked).toBeGreaterThan(0);
    expect(deferred).toBeGreaterThanOrEqual(200);
  }, 400_000);
});

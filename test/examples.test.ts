import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const examplesDir = join(root, 'examples');

interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs an example the way `npm start` does (tsx), in quick mode, without a terminal. */
function run(file: string, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(examplesDir, file)], {
      cwd: root,
      env: { ...process.env, MAILPUSH_EXAMPLE_QUICK: '1', FORCE_COLOR: undefined, NO_COLOR: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** What each example must print. A new example without an entry here fails the suite. */
const expectations: Record<string, (out: string) => void> = {
  'quickstart.ts': (out) => {
    expect(out).toContain('mailpush quickstart: 300 bulk messages + 6 password resets');
    expect(out).toMatch(/Production defaults: retries after 30 s, 2 min, 10 min/);
    // Gmail's 421 4.7.28 slowed throttle.test down and was reported.
    expect(out).toMatch(/throttled throttle\.test: "421 4\.7\.28 Gmail has detected.*" -> paused 1\.5 s, then 50\.0\/s on 1 connection$/m);
    expect(out).toContain('Summary per recipient domain');
    // 300 bulk messages: 2% to unknown users at nosuch.test, 8% at flaky.test (each deferred once).
    expect(out).toMatch(/^nosuch\.test\s+0\s+0\s+6\s+[\d.]+\s+unlimited$/m);
    expect(out).toMatch(/^flaky\.test\s+24\s+24\s+0\s+[\d.]+\s+unlimited$/m);
    expect(out).toMatch(/^small\.test\s+\d+\s+0\s+0\s+[\d.]+\s+20$/m);
    expect(out).toMatch(/^big\.test\s+\d+\s+0\s+0\s+[\d.]+\s+100$/m);
    expect(out).toMatch(/^throttle\.test\s+\d+\s+[1-9]\d*\s+0\s+[\d.]+\s+100$/m);
    expect(out).toMatch(/^total\s+300\s+\d+\s+6\s*$/m);
    expect(out).toMatch(/Critical lane \(password resets, send\(\) to 'sent' event, 6 messages\): p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms/);
    expect(out).toMatch(/All 306 messages reached a final state: 300 sent, 6 failed .*MAILPUSH_ERR_PERMANENT 550 5\.1\.1/);
    expect(out).toContain('The SMTP sink accepted 300 messages.');
    expect(out).toMatch(/Mailer closed cleanly \(0 jobs left\)/);
    expect(out).not.toContain('Problem:');
  },
  'testing-your-app.ts': (out) => {
    expect(out).not.toContain('not ok');
    expect(out.match(/^ok - /gm)).toHaveLength(8);
    expect(out).toMatch(/^ok - a temporary failure is retried later on the virtual clock and delivered \(retried after \d+ s of virtual time\)$/m);
    expect(out).toMatch(/^ok - a hard bounce flags the address/m);
    expect(out).toContain('8 checks passed');
  },
};

const files = readdirSync(examplesDir).filter((f) => f.endsWith('.ts')).sort();

describe('examples', () => {
  it('has an expectation for every script in examples/', () => {
    expect(files).toEqual(Object.keys(expectations).sort());
  });

  for (const file of files) {
    it(`${file} runs to completion in quick mode and prints what it did`, async () => {
      const result = await run(file);
      expect(result.signal, `killed: ${result.stderr}`).toBeNull();
      expect(result.code, `stderr:\n${result.stderr}\nstdout:\n${result.stdout}`).toBe(0);
      expect(result.stderr).toBe('');
      // Not a terminal: no colours, no carriage-return progress line.
      expect(result.stdout).not.toMatch(/\x1b\[|\r/);
      expectations[file]?.(result.stdout);
    }, 90_000);
  }
});

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
    // sendMany skipped the one broken address and queued the rest.
    expect(out).toMatch(/campaign queued: 300 of 301 read, 1 invalid \(item 7: MAILPUSH_ERR_INVALID_ADDRESS\)$/m);
    // Gmail's 421 4.7.28 slowed throttle.test down and was reported.
    expect(out).toMatch(/throttled throttle\.test: "421 4\.7\.28 Gmail has detected.*" -> paused 1\.5 s, then 50\.0\/s on 1 connection$/m);
    expect(out).toContain('Summary per recipient domain');
    expect(out).toMatch(/^Queue store: .*mailpush\.db \(SQLite\)$/m);
    // The live status page and the Prometheus endpoint (mailpush/status, mailpush/metrics), scraped at the end.
    expect(out).toMatch(/^Live status page: http:\/\/127\.0\.0\.1:\d+\/ \(Prometheus metrics at http:\/\/127\.0\.0\.1:\d+\/metrics\)$/m);
    expect(out).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/metrics: mailpush_recipients_total 300 sent, 6 failed, [1-9]\d* deferred$/m);
    // The restart: queued mail survives the first mailer and is delivered by the next.
    expect(out).toMatch(/^Restart: the first mailer accepted 20 invoices and stopped with 20 of them queued in /m);
    expect(out).toMatch(/^The next mailer on the same file recovered 20 and delivered 20 of them \(the sink got 20\)\.$/m);
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
  'failover.ts': (out) => {
    expect(out).toMatch(/^mailpush failover: 200 messages through failover\(\[primary, secondary\]\)/m);
    expect(out).toMatch(/primary is back: a send through it succeeded$/m);
    expect(out).toMatch(/^ {2}primary\s+\d+$/m);
    expect(out).toMatch(/^ {2}secondary\s+[1-9]\d*$/m);
    expect(out).toContain('All 200 messages delivered exactly once');
    expect(out).toContain('Mailer closed cleanly (0 jobs left).');
  },
  'feedback-server.ts': (out) => {
    expect(out).toMatch(/^SNS subscription confirmed for arn:aws:sns:us-east-1:123456789012:ses-feedback \(200\)$/m);
    expect(out).toMatch(/^event ses\s+bounced\s+jane@example\.com\s+hard userunknown\s+suppression: added$/m);
    expect(out).toMatch(/^event ses\s+bounced\s+kim@example\.net\s+soft blocked\s+suppression: none$/m);
    expect(out).toMatch(/^replayed SNS message -> 200 duplicate, not processed twice$/m);
    expect(out).toMatch(/^forged SendGrid request -> 403 \(SendGrid signature does not verify\)$/m);
    expect(out).toMatch(/^forged bounce: bounce, 1 event, 0 suppressed \(unverified: no-proof\)$/m);
    expect(out).toMatch(/^bounce mailbox: bounce, 1 event, 1 suppressed$/m);
    expect(out).toMatch(/^send to jane@example\.com: suppressed$/m);
    expect(out).toMatch(/^send to kim@example\.net: sent$/m);
    // A large export ingested with keepEvents: false: nothing kept in the result, every event through the hooks.
    expect(out).toMatch(/^nightly export: 2000 events processed \(0 kept in the result\), 2000 hard, 2000 suppressed$/m);
    expect(out).toMatch(/^send to gone7@example\.net: suppressed$/m);
    expect(out).toContain('Server closed; the memory transport sent 2 message(s).');
  },
  'scale-out.ts': (out) => {
    // Needs Redis on 127.0.0.1:6379 (CI starts one); without it the example exits 1 with a message.
    expect(out).toMatch(/^mailpush scale-out: 1 producer \+ 2 worker processes on Redis \S+ \(key prefix mailpush-example:[0-9a-f]+:\)/m);
    expect(out).toMatch(/^queued 200 newsletter messages in [\d.]+ s: send\(\) resolved once each job was in Redis$/m);
    // receipt.done() resolves in the producer for mail a worker process delivered.
    expect(out.match(/^password reset \d: receipt\.done\(\) -> sent, delivered by worker-[12], \d+ ms after send\(\)$/gm)).toHaveLength(5);
    expect(out).toMatch(/^ {2}worker-1\s+[1-9]\d*\s+messages\s+[\d.]+\/s$/m);
    expect(out).toMatch(/^ {2}worker-2\s+[1-9]\d*\s+messages\s+[\d.]+\/s$/m);
    expect(out).toMatch(/^ {2}fleet\s+205\s+messages\s+[\d.]+\/s {2}\([\d.]+ s from the first to the last delivery\)$/m);
    // Both workers share one bucket: the example itself reports a Problem above 44/s.
    expect(out).toMatch(/^limited\.test: 100 sends in [\d.]+ s = [\d.]+\/s after the first 4 \(the bucket's burst\), \d+ \+ \d+ from the two workers; the fleet-wide limit is 40\/s$/m);
    expect(out).toContain("status() in the producer: 200 of 200 newsletter messages 'sent'; the SMTP sink accepted 205 messages, 205 with the Message-ID of their receipt");
    expect(out).toMatch(/^Deleted the example's \d+ Redis keys \(mailpush-example:[0-9a-f]+:\*\)\.$/m);
    expect(out).toMatch(/^Scale-out done in [\d.]+ s: 205 messages queued by the producer, delivered by 2 worker processes, exit code 0\.$/m);
    expect(out).not.toContain('Problem:');
  },
  'sendgrid.ts': (out) => {
    expect(out).toMatch(/^sent: Order #1001 confirmed -> X-Message-Id \S+ \(4 recipients in 1 request\)$/m);
    expect(out).toMatch(/^throttled \(transport\): SendGrid 429/m);
    expect(out).toMatch(/^failed: MAILPUSH_ERR_PERMANENT SendGrid 400/m);
    expect(out).toContain('Mailer closed cleanly (0 jobs left).');
  },
  'ses.ts': (out) => {
    expect(out).toContain('verify(): credentials accepted, sending enabled');
    expect(out).toMatch(/^throttled \(transport\): SES TooManyRequestsException/m);
    expect(out).toMatch(/^failed\s+\S+: MAILPUSH_ERR_PERMANENT SES MessageRejected/m);
    expect(out).toMatch(/^10 messages sent, 1 failed, in [\d.]+ s$/m);
    // Above 256 KiB the SES transport slices and streams the body: the fake got it whole.
    expect(out).toMatch(/^large message: sent, 5\.0 MB invoice, 6\.[89] MB raw at SES, 1 SendEmail request$/m);
    expect(out).toContain('Every sent event carries the SES MessageId of its message.');
  },
  'testing-your-app.ts': (out) => {
    expect(out).not.toContain('not ok');
    expect(out.match(/^ok - /gm)).toHaveLength(8);
    expect(out).toMatch(/^ok - a temporary failure is retried later on the virtual clock and delivered \(retried after \d+ s of virtual time\)$/m);
    expect(out).toMatch(/^ok - a hard bounce flags the address and later resets skip it \(550 5\.1\.1 userunknown\)$/m);
    expect(out).toMatch(/^ok - a full mailbox is retried until the job expires, and the address is not flagged \(expired after 20 attempts\)$/m);
    expect(out).toContain('8 checks passed');
  },
  'templates.ts': (out) => {
    expect(out).toMatch(/^mailpush templates: compiled once in \d+ ms; variables: month, customer\.name, balance, notice, url$/m);
    expect(out).toContain('sent 3 personalised statements; the sink received 3:');
    expect(out).toContain('bob@example.net: "November statement for Bob & <Sons>" / text: HELLO Bob & <Sons>, | Your balance on November: -35.00 €.');
    expect(out).toContain('escaped in the HTML: yes; raw notice kept: yes');
    expect(out).toContain('a missing variable: MAILPUSH_ERR_TEMPLATE: Missing template variables: customer.name, balance, notice, url');
    expect(out).toContain('a variable in a typed attribute: MAILPUSH_ERR_TEMPLATE: MJML line 4: <mj-section background-color="{{brand}}">');
    expect(out).toContain('Mailer closed cleanly (0 jobs left).');
  },
  'newsletter.ts': (out) => {
    expect(out).toMatch(/^mailpush newsletter: 300 subscribers on the 'weekly' list, MJML compiled once$/m);
    // The progress bar (one line per update when not on a terminal), ending full.
    expect(out).toMatch(/^weekly-2026-49 \[#*-*\] \d+\/300 sent, \d+\/s/m);
    expect(out).toMatch(/^weekly-2026-49 \[#{30}\] 300\/300 sent/m);
    expect(out).toMatch(/^weekly-2026-49: 300 subscribers read, 300 sent, 0 failed, 0 suppressed in [\d.]+ s \(\d+\/s\); state completed$/m);
    expect(out).toContain("reader42's copy: Feedback-ID weekly-2026-49:marketing:acmenews; List-Unsubscribe-Post List-Unsubscribe=One-Click");
    expect(out).toMatch(/^one-click POST http:\/\/127\.0\.0\.1:\d+\/u\/<token> -> 200, no redirect; reader42 is now unsubscribed$/m);
    expect(out).toContain('weekly-2026-49 stats: queued 300, sent 300, unsubscribed 1');
    expect(out).toMatch(/^weekly-2026-50: 299 subscribers read, 299 sent, 0 failed, 0 suppressed in [\d.]+ s \(\d+\/s\); state completed$/m);
    expect(out).toContain('issue 50 reached 299 addresses; reader42 got 0 (unsubscribed), reader41 got 1');
    expect(out).toContain('Mailer closed cleanly (0 jobs left).');
  },
  'unsubscribe.ts': (out) => {
    expect(out).toContain('weekly #1 to ann@example.org: sent');
    expect(out).toMatch(/^List-Unsubscribe: <https:\/\/u\.acme\.test\/unsubscribe\/<token of \d+ chars>>$/m);
    expect(out).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(out).toContain('GET the link -> 200, a page with a button (form found); still subscribed');
    expect(out).toContain('one-click POST (multipart) -> 200, Location: none; now unsubscribed');
    expect(out).toContain('feedback event: unsubscribed ann@example.org, list weekly (one-click)');
    expect(out).toContain('weekly #2: suppressed; offers #1: sent');
    expect(out).toContain('after resubscribing with fresh consent, weekly #3: sent');
    expect(out).toContain('Mailer closed cleanly (0 jobs left).');
  },
  'tracking.ts': (out) => {
    expect(out).toContain('campaign queued: 3; tracked: ann@example.org, cy@example.org');
    expect(out).toMatch(/^Ann's link: http:\/\/127\.0\.0\.1:\d+\/t\/c\/[A-Za-z0-9_-]+\.\.\. \(\d+ characters, nothing readable\)$/m);
    expect(out).toMatch(/^feedback: clicked by ann@example\.org -> http:\/\/127\.0\.0\.1:\d+\/sale\?utm_source=newsletter&utm_medium=email, human, campaign spring$/m);
    expect(out).toMatch(/^click: landed on http:\/\/127\.0\.0\.1:\d+\/sale\?utm_source=newsletter&utm_medium=email: shop page \/sale/m);
    expect(out).toContain('feedback: opened by ann@example.org, human, campaign spring');
    expect(out).toContain('feedback: opened by cy@example.org, machine (apple-mpp-agent), campaign spring');
    expect(out).toContain('a tampered link: 400, Location none');
    expect(out).toContain("campaign 'spring' counters: clicked 1, clicked.total 1, opened 1, opened.machine 1, opened.machine.total 1, opened.total 1");
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

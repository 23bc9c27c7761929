/**
 * Testing your own mail code with mailpush/testing.
 *
 * The first half is "your application": an accounts module that sends password resets and
 * welcome mails and flags addresses that hard-bounce. The second half tests it with
 * `createTestMailer()`: a real mailer (same validation, queue, retries and events) over an
 * in-memory transport and a virtual clock, so retries scheduled minutes ahead run at once.
 *
 *   npx tsx examples/testing-your-app.ts
 *
 * The checks are plain functions with node:assert so this file runs as a script; in your
 * project the same bodies go into vitest / jest / node:test `it()` blocks. In your
 * application, import from 'mailpush' and 'mailpush/testing' instead of ../src.
 *
 * @module
 */

import { strict as assert } from 'node:assert';
import { HARD_CATEGORIES, MailErrorCode, isMailError } from '../src/index.js';
import type { Mailer } from '../src/index.js';
import { createTestMailer } from '../src/testing/index.js';
import type { TestMailer } from '../src/testing/index.js';

// =======================================================================================
// Your application
// =======================================================================================

interface User {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  /** Set when mail to this address bounced for good; the app stops mailing it. */
  bouncing: boolean;
}

class Accounts {
  constructor(
    private readonly mailer: Mailer,
    private readonly users: Map<string, User>,
  ) {
    // Hard bounces (unknown user, unknown domain) flag the address. Soft ones (mailbox full,
    // expired after retries) do not: the address is fine, the moment was not.
    mailer.on('failed', (event) => {
      const category = event.error.category;
      if (event.reason !== 'permanent' || category === undefined || !(HARD_CATEGORIES as ReadonlySet<string>).has(category)) return;
      for (const address of event.recipients) {
        const user = this.users.get(address);
        if (user !== undefined) user.bouncing = true;
      }
    });
  }

  /** Sends a reset link if the address belongs to a user. Answers the same either way, so it reveals nothing. */
  async requestPasswordReset(email: string, token: string): Promise<void> {
    const user = this.users.get(email.toLowerCase());
    if (user === undefined || user.bouncing) return;
    await this.mailer.send(
      {
        from: 'Acme Accounts <accounts@acme.test>',
        to: { name: user.name, address: user.email },
        subject: 'Reset your password',
        text: `Hello ${user.name}, reset your password at https://acme.test/reset/${token} (valid 15 minutes).`,
        tags: { type: 'password-reset' },
      },
      { priority: 'critical' },
    );
  }

  /** Creates a user and sends a welcome mail once, however often the signup request is retried. */
  async signUp(id: string, email: string, name: string): Promise<'ok' | 'invalid'> {
    try {
      await this.mailer.send(
        { from: 'Acme <hello@acme.test>', to: { name, address: email }, subject: `Welcome, ${name}`, text: 'Glad to have you.' },
        { idempotencyKey: `welcome:${id}` },
      );
    } catch (err) {
      // Match on the code, never on the message text.
      if (isMailError(err) && (err.code === MailErrorCode.INVALID_ADDRESS || err.code === MailErrorCode.INVALID_HEADER)) return 'invalid';
      throw err;
    }
    this.users.set(email.toLowerCase(), { id, email, name, bouncing: false });
    return 'ok';
  }
}

// =======================================================================================
// Its tests
// =======================================================================================

const opened: TestMailer[] = [];

function setup() {
  const mailer = createTestMailer();
  opened.push(mailer);
  const users = new Map<string, User>([['ann@example.com', { id: 'u1', email: 'ann@example.com', name: 'Ann', bouncing: false }]]);
  return { mailer, users, accounts: new Accounts(mailer, users) };
}

const checks: [string, () => Promise<void>][] = [];
const check = (name: string, body: () => Promise<void>): void => {
  checks.push([name, body]);
};

check('a reset goes to the user as a critical message with the link', async () => {
  const { mailer, accounts } = setup();
  await accounts.requestPasswordReset('Ann@Example.com', 'tok123');
  // Assertions see a message as soon as send() resolved, before it is delivered.
  mailer.assertSent({ to: 'ann@example.com', subject: 'Reset your password', text: '/reset/tok123', tags: { type: 'password-reset' } }, 1);
  assert.equal(mailer.messages[0]?.options.priority, 'critical');
  await mailer.flush(); // runs the queue to the end
  assert.equal(mailer.outbox.length, 1);
  assert.deepEqual(mailer.outbox[0]?.envelope.to, ['ann@example.com']);
});

check('a reset for an unknown address sends nothing', async () => {
  const { mailer, accounts } = setup();
  await accounts.requestPasswordReset('nobody@example.com', 'tok');
  await mailer.flush();
  mailer.assertNothingSent();
});

check('a line break in a name is refused (header injection), nothing is sent', async () => {
  const { mailer, accounts } = setup();
  assert.equal(await accounts.signUp('u2', 'eve@example.com', 'Eve\r\nBcc: victim@example.org'), 'invalid');
  await mailer.flush();
  mailer.assertNothingSent();
});

check('a retried signup sends one welcome mail (idempotency key)', async () => {
  const { mailer, accounts } = setup();
  assert.equal(await accounts.signUp('u3', 'bob@example.com', 'Bob'), 'ok');
  assert.equal(await accounts.signUp('u3', 'bob@example.com', 'Bob'), 'ok');
  await mailer.flush();
  mailer.assertSent(1);
  assert.equal(mailer.outbox.length, 1);
});

check('a temporary failure is retried later on the virtual clock and delivered', async () => {
  const { mailer, accounts } = setup();
  mailer.faults.failNext(1, 'tempfail'); // 451 4.3.0 on the first attempt
  const deferred: number[] = [];
  mailer.on('deferred', (e) => deferred.push(e.retryAt - mailer.clock.now()));
  const start = mailer.clock.now();
  await accounts.requestPasswordReset('ann@example.com', 'tok');
  await mailer.flush(); // no real waiting: the clock jumps to the retry
  assert.equal(deferred.length, 1);
  assert.equal(mailer.outbox.length, 1);
  assert.equal(mailer.outbox[0]?.attempt, 2);
  const waitedMs = mailer.clock.now() - start;
  assert.ok(waitedMs >= 24_000, `expected a retry after at least 24 s of virtual time, got ${waitedMs} ms`);
  details.push(`retried after ${(waitedMs / 1000).toFixed(0)} s of virtual time`);
});

check('a hard bounce flags the address and later resets skip it', async () => {
  const { mailer, users, accounts } = setup();
  mailer.faults.rejectRecipients('ann@example.com'); // 550 5.1.1 user unknown
  await accounts.requestPasswordReset('ann@example.com', 'tok1');
  await mailer.flush();
  assert.equal(users.get('ann@example.com')?.bouncing, true);
  const report = await mailer.messages[0]?.receipt.done();
  assert.equal(report?.status, 'failed');
  const error = report?.recipients[0]?.error;
  assert.equal(error?.code, MailErrorCode.PERMANENT);
  assert.equal(error?.category, 'userunknown');
  details.push(`${error.responseCode} ${error.enhancedStatus} ${error.category}`);
  await accounts.requestPasswordReset('ann@example.com', 'tok2');
  mailer.assertSent(1); // the second reset was never sent
});

check('a full mailbox is retried until the job expires, and the address is not flagged', async () => {
  const { mailer, users, accounts } = setup();
  mailer.faults.rejectRecipients('ann@example.com', 'mailbox-full'); // 552 5.2.2, every time
  await accounts.requestPasswordReset('ann@example.com', 'tok');
  await mailer.flush(); // days of retries in milliseconds
  const result = (await mailer.messages[0]?.receipt.done())?.recipients[0];
  assert.equal(result?.status, 'expired');
  assert.equal(result?.error?.code, MailErrorCode.EXPIRED);
  assert.equal(users.get('ann@example.com')?.bouncing, false);
  details.push(`expired after ${result?.attempts} attempts`);
});

check('a throttling provider slows the domain down and loses nothing', async () => {
  const { mailer, users, accounts } = setup();
  for (let i = 0; i < 5; i++) users.set(`user${i}@example.com`, { id: `t${i}`, email: `user${i}@example.com`, name: `User ${i}`, bouncing: false });
  mailer.faults.failNext(1, 'throttle-gmail'); // 421 4.7.28
  const throttled: string[] = [];
  mailer.on('throttled', (e) => throttled.push(e.domain));
  for (let i = 0; i < 5; i++) await accounts.requestPasswordReset(`user${i}@example.com`, `t${i}`);
  await mailer.flush();
  assert.deepEqual(throttled, ['example.com']);
  assert.equal(mailer.outbox.length, 5);
  assert.equal(mailer.stats().totals.throttled, 1);
});

// A tiny runner that prints what it checked.
const details: string[] = [];
let failed = 0;
for (const [name, body] of checks) {
  details.length = 0;
  try {
    await body();
    console.log(`ok - ${name}${details.length > 0 ? ` (${details.join(', ')})` : ''}`);
  } catch (err) {
    failed++;
    console.log(`not ok - ${name}`);
    console.log(`  ${String(err instanceof Error ? (err.stack ?? err.message) : err).replaceAll('\n', '\n  ')}`);
  }
  for (const mailer of opened.splice(0)) await mailer.close();
}
console.log(failed === 0 ? `${checks.length} checks passed` : `${failed} of ${checks.length} checks failed`);
if (failed > 0) process.exitCode = 1;

import { describe, expect, it } from 'vitest';
import { createTestMailer } from '../../src/testing/index.js';

describe('stats().totals', () => {
  it('counts expired jobs in `expired`, not in `failed`; every job ends in sent, failed or expired', async () => {
    const mailer = createTestMailer({ retry: { maxAttempts: 2 } });
    mailer.faults.failWhen((p) => p.message.subject === 'perm', 'permfail');
    mailer.faults.failWhen((p) => p.message.subject === 'temp', 'tempfail');
    const base = { from: 'app@example.com', text: 'x' };
    await mailer.send({ ...base, to: 'a@one.example', subject: 'ok' });
    await mailer.send({ ...base, to: 'b@two.example', subject: 'perm' });
    await mailer.send({ ...base, to: 'c@three.example', subject: 'temp' });
    // One message to two domains: two jobs.
    await mailer.send({ ...base, to: ['d@four.example', 'e@five.example'], subject: 'ok' });
    await mailer.flush();
    const t = mailer.stats().totals;
    expect(t.queued).toBe(5);
    expect(t.sent).toBe(3);
    expect(t.failed).toBe(1);
    expect(t.expired).toBe(1);
    expect(t.deferred).toBe(1);
    expect(t.sent + t.failed + t.expired).toBe(t.queued);
    await mailer.close();
  });
});

import { describe, expect, it } from 'vitest';
import type { FeedbackEvent } from '../../src/feedback/event.js';
import { NEVER_SUPPRESS_REASONS, createSuppressionPolicy, memorySoftBounceCounter } from '../../src/feedback/policy.js';
import type { PolicyDecision } from '../../src/feedback/policy.js';
import type { BounceCategory } from '../../src/types.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const DAY = 86_400_000;
let seq = 0;
const ev = (e: Partial<FeedbackEvent> & Pick<FeedbackEvent, 'type'>): FeedbackEvent => ({ recipient: 'ann@example.org', provider: 'ses', timestamp: NOW, eventId: `e${++seq}`, raw: {}, ...e });
const soft = (reason: BounceCategory, at = NOW, eventId?: string) => ev({ type: 'bounced', hard: false, reason, timestamp: at, ...(eventId ? { eventId } : {}) });
const entry = (d: PolicyDecision) => (d.action === 'suppress' ? d.entry : undefined);

describe('createSuppressionPolicy', () => {
  it('suppresses a hard bounce at once, for all mail, forever', async () => {
    const d = await createSuppressionPolicy().evaluate(ev({ type: 'bounced', hard: true, reason: 'userunknown', diagnostic: 'smtp; 550 5.1.1 unknown' }), NOW);
    expect(d.action).toBe('suppress');
    expect(entry(d)).toEqual({ address: 'ann@example.org', reason: 'hard-bounce', source: 'ses', createdAt: NOW, detail: 'smtp; 550 5.1.1 unknown' });
  });

  it('gives hard bounces an expiry when hardBounceSuppressMs is set', async () => {
    const d = await createSuppressionPolicy({ hardBounceSuppressMs: 365 * DAY }).evaluate(ev({ type: 'bounced', hard: true, reason: 'userunknown' }), NOW);
    expect(entry(d)?.expiresAt).toBe(NOW + 365 * DAY);
  });

  it('suppresses the whole domain for hostunknown only when asked to', async () => {
    const e = ev({ type: 'bounced', hard: true, reason: 'hostunknown', recipient: 'ann@gmial.example' });
    expect(entry(await createSuppressionPolicy().evaluate(e, NOW))).toMatchObject({ address: 'ann@gmial.example' });
    const d = entry(await createSuppressionPolicy({ suppressDomainOnHostUnknown: true }).evaluate(e, NOW));
    expect(d).toMatchObject({ domain: 'gmial.example', reason: 'hard-bounce' });
    expect(d?.address).toBeUndefined();
  });

  it('suppresses a complaint for all mail by default, or for complaintScope', async () => {
    expect(entry(await createSuppressionPolicy().evaluate(ev({ type: 'complained', feedbackType: 'abuse' }), NOW))).toEqual({ address: 'ann@example.org', reason: 'complaint', source: 'ses', createdAt: NOW, detail: 'abuse' });
    expect(entry(await createSuppressionPolicy().evaluate(ev({ type: 'complained' }), NOW))).toMatchObject({ reason: 'complaint' });
    expect(entry(await createSuppressionPolicy({ complaintScope: 'marketing' }).evaluate(ev({ type: 'complained', feedbackType: 'fraud' }), NOW))).toMatchObject({ scope: 'marketing' });
  });

  it('does not treat not-spam, auth-failure and virus reports as complaints', async () => {
    const p = createSuppressionPolicy();
    for (const feedbackType of ['not-spam', 'auth-failure', 'virus', 'NOT-SPAM']) expect((await p.evaluate(ev({ type: 'complained', feedbackType }), NOW)).action).toBe('none');
  });

  it('suppresses after 3 soft bounces within 7 days, for 30 days', async () => {
    const p = createSuppressionPolicy();
    expect(await p.evaluate(soft('mailboxfull', NOW - 2 * DAY), NOW)).toMatchObject({ action: 'none', why: 'soft bounce 1 of 3 within 7 d' });
    expect((await p.evaluate(soft('mailboxfull', NOW - DAY), NOW)).action).toBe('none');
    const d = await p.evaluate(soft('suspend'), NOW);
    expect(d.action).toBe('suppress');
    expect(entry(d)).toMatchObject({ address: 'ann@example.org', reason: 'soft-bounce', expiresAt: NOW + 30 * DAY });
    // The count starts over once suppressed.
    expect((await p.evaluate(soft('mailboxfull'), NOW)).action).toBe('none');
  });

  it('counts a retried event once', async () => {
    const p = createSuppressionPolicy();
    for (let i = 0; i < 5; i++) expect((await p.evaluate(soft('mailboxfull', NOW, 'same-id'), NOW)).action).toBe('none');
    expect((await p.evaluate(soft('mailboxfull', NOW, 'other-id'), NOW)).action).toBe('none');
  });

  it('forgets soft bounces outside the window', async () => {
    const p = createSuppressionPolicy();
    await p.evaluate(soft('mailboxfull', NOW - 20 * DAY), NOW);
    await p.evaluate(soft('mailboxfull', NOW - 10 * DAY), NOW);
    expect((await p.evaluate(soft('mailboxfull', NOW), NOW)).action).toBe('none');
  });

  it('honours a custom threshold, window and duration, and threshold 0 turns it off', async () => {
    const p = createSuppressionPolicy({ softBounceThreshold: 1, softBounceSuppressMs: DAY });
    expect(entry(await p.evaluate(soft('mailboxfull'), NOW))?.expiresAt).toBe(NOW + DAY);
    const off = createSuppressionPolicy({ softBounceThreshold: 0 });
    for (let i = 0; i < 10; i++) expect((await off.evaluate(soft('mailboxfull'), NOW)).action).toBe('none');
    const narrow = createSuppressionPolicy({ softBounceThreshold: 2, softBounceWindowMs: 60_000 });
    await narrow.evaluate(soft('mailboxfull', NOW - 120_000), NOW);
    expect((await narrow.evaluate(soft('mailboxfull', NOW), NOW)).action).toBe('none');
  });

  it('never suppresses for policy, reputation, content or rate refusals, however many', async () => {
    const p = createSuppressionPolicy();
    for (const reason of ['blocked', 'policyviolation', 'badreputation', 'spamdetected', 'ratelimited', 'authfailure', 'contenterror', 'requireptr'] as const) {
      expect(NEVER_SUPPRESS_REASONS.has(reason)).toBe(true);
      for (let i = 0; i < 10; i++) expect((await p.evaluate(soft(reason), NOW)).action, reason).toBe('none');
    }
  });

  it('never suppresses for deferrals, deliveries, opens, clicks, drops or rejections', async () => {
    const p = createSuppressionPolicy({ softBounceThreshold: 1 });
    for (const type of ['deferred', 'delivered', 'opened', 'clicked', 'dropped', 'rejected', 'processed'] as const) {
      expect((await p.evaluate(ev({ type, reason: 'mailboxfull' }), NOW)).action, type).toBe('none');
    }
  });

  it('clears the soft-bounce count on a delivery', async () => {
    const p = createSuppressionPolicy();
    await p.evaluate(soft('mailboxfull'), NOW);
    await p.evaluate(soft('mailboxfull'), NOW);
    await p.evaluate(ev({ type: 'delivered' }), NOW);
    expect((await p.evaluate(soft('mailboxfull'), NOW)).action).toBe('none');
  });

  it('suppresses an unsubscribe for its list, else for marketing; a resubscribe lifts it', async () => {
    const p = createSuppressionPolicy();
    expect(entry(await p.evaluate(ev({ type: 'unsubscribed', provider: 'sendgrid', list: '42' }), NOW))).toEqual({ address: 'ann@example.org', reason: 'unsubscribe', scope: '42', source: 'sendgrid', createdAt: NOW });
    expect(entry(await p.evaluate(ev({ type: 'unsubscribed' }), NOW))).toMatchObject({ scope: 'marketing' });
    expect(await p.evaluate(ev({ type: 'resubscribed', list: '42' }), NOW)).toMatchObject({ action: 'unsuppress', target: { address: 'ann@example.org', scope: '42' }, reason: 'unsubscribe' });
    const mapped = createSuppressionPolicy({ unsubscribeScope: (e) => `asm-${e.list ?? 'all'}` });
    expect(entry(await mapped.evaluate(ev({ type: 'unsubscribed', list: '7' }), NOW))?.scope).toBe('asm-7');
  });

  it('validates its options', () => {
    expect(() => createSuppressionPolicy({ softBounceThreshold: -1 })).toThrow(/policy.softBounceThreshold/);
    expect(() => createSuppressionPolicy({ softBounceThreshold: 1.5 })).toThrow(/policy.softBounceThreshold/);
    expect(() => createSuppressionPolicy({ softBounceWindowMs: 0 })).toThrow(/policy.softBounceWindowMs/);
    expect(() => createSuppressionPolicy({ softBounceSuppressMs: Number.NaN })).toThrow(/policy.softBounceSuppressMs/);
    expect(() => createSuppressionPolicy({ complaintScope: '' })).toThrow(/policy.complaintScope/);
    expect(() => createSuppressionPolicy({ counter: {} as never })).toThrow(/policy.counter/);
    expect(() => createSuppressionPolicy({ unsubscribeScope: 'x' as never })).toThrow(/policy.unsubscribeScope/);
  });
});

describe('memorySoftBounceCounter', () => {
  it('keeps at most maxAddresses, forgetting the least recently bounced', () => {
    const c = memorySoftBounceCounter({ maxAddresses: 2 });
    c.hit('a@x.example', '1', NOW, DAY);
    c.hit('b@x.example', '2', NOW, DAY);
    c.hit('a@x.example', '3', NOW, DAY);
    c.hit('c@x.example', '4', NOW, DAY);
    expect(c.size).toBe(2);
    expect(c.hit('A@X.example', '5', NOW, DAY)).toBe(3);
    expect(c.hit('b@x.example', '6', NOW, DAY)).toBe(1);
  });

  it('keeps a bounded number of hits per address', () => {
    const c = memorySoftBounceCounter();
    let n = 0;
    for (let i = 0; i < 1000; i++) n = c.hit('a@x.example', `id${i}`, NOW, DAY) as number;
    expect(n).toBe(32);
  });

  it('validates maxAddresses', () => {
    expect(() => memorySoftBounceCounter({ maxAddresses: 0 })).toThrow(/maxAddresses/);
  });
});

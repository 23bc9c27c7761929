import { describe, expect, it } from 'vitest';
import { decideBounceReason, statusReason } from '../../src/classify/reason.js';
import type { ReasonInput } from '../../src/classify/reason.js';

// Rule families of the reference's decision (../shared/BOUNCE-REASONS.md) checked one by one in
// the fourth session: each test is a short text written for it, in the usual shape of such
// replies, with the SMTP command and status that select the rule.
const decide = (input: ReasonInput) => decideBounceReason(input);
const reasonOf = (input: ReasonInput): string => decide(input).reason;
const rcpt = (text: string, replyCode = 550): ReasonInput => ({ replyCode, text, command: 'RCPT' });
const data = (text: string, replyCode = 554): ReasonInput => ({ replyCode, text, command: 'DATA' });
const mail = (text: string, replyCode = 553): ReasonInput => ({ replyCode, text, command: 'MAIL' });
const bare = (text: string): ReasonInput => ({ text });

describe('media-error statuses (X.6.Y) map to contenterror', () => {
  it('maps the RFC 3463 media codes of both classes', () => {
    for (const s of ['4.6.0', '4.6.5', '5.6.0', '5.6.1', '5.6.3', '5.6.7', '5.6.10']) expect(statusReason(s)).toBe('contenterror');
  });

  it('a media status is specific: the second pass returns it without reading phrases', () => {
    expect(decide({ status: '5.6.0', ...rcpt('554 5.6.0 message contains spam or a virus', 554) })).toMatchObject({
      reason: 'contenterror',
      decidedBy: { rule: 'second-pass/status', family: 'contenterror' },
    });
    // After DATA the first pass still reads the content wording.
    expect(reasonOf({ status: '5.6.0', ...data('554 5.6.0 message contains spam') })).toBe('spamdetected');
  });
});

describe('the last fallbacks', () => {
  it('a refused HELO/EHLO with no wording is the client (blocked); a refusal at the connection is not', () => {
    expect(reasonOf({ replyCode: 554, text: '554 not today', command: 'EHLO' })).toBe('blocked');
    expect(reasonOf({ replyCode: 554, text: '554 not today', command: 'CONN' })).toBe('onhold');
  });
});

import { describe, expect, it } from 'vitest';
import { decideBounceReason } from '../../src/classify/reason.js';
import type { ReasonInput } from '../../src/classify/reason.js';
import { OVERRIDE_ONLY, referenceWording } from '../../src/classify/reference.js';

// The reference lists added for the families that had none (src/classify/reference.ts), one
// block per family. Every text is written for the test. A full list makes the family's wider
// wording yield to a later family's reference wording; a partial list (OVERRIDE_ONLY) only lets
// the family's own reference wording override an earlier family's held wider wording.
const decide = (input: ReasonInput) => decideBounceReason(input);
const rcpt = (text: string, replyCode = 550): ReasonInput => ({ replyCode, text, command: 'RCPT' });

describe('norelaying (full list)', () => {
  it('names the reference phrase that matched', () => {
    expect(decide(rcpt('554 5.7.1 <a@example.org>: Relay access denied', 554)).decidedBy).toMatchObject({ family: 'norelaying', matched: 'relay access denied' });
  });

  it('wider relay wording yields to the reference block-list wording', () => {
    const v = decide(rcpt('554 We do not relay mail: client host [192.0.2.9] blocked using dnsbl.example.net', 554));
    expect(v).toMatchObject({ reason: 'blocked', decidedBy: { rule: 'first-pass/phrase', family: 'blocked', matched: 'blocked using' } });
    expect(v.decidedBy.overrode).toMatch(/^norelaying: /);
  });

  it('a 5.1.1 yields to the reference relay wording only', () => {
    expect(decide({ status: '5.1.1', ...rcpt('550 5.1.1 <a@example.org>: Relay access denied') }).reason).toBe('norelaying');
    expect(decide({ status: '5.1.1', ...rcpt('550 5.1.1 <a@example.org>: user gone, we do not relay for it') }).reason).toBe('userunknown');
  });
});

describe('hasmoved (full list, the same one phrase as the wider wording)', () => {
  it('the reference phrase vetoes a 5.1.1', () => {
    expect(referenceWording('550 5.1.1 a@example.org has been replaced by b@example.net', 'hasmoved')).toBe('reference');
    expect(decide({ status: '5.1.1', ...rcpt('550 5.1.1 a@example.org has been replaced by b@example.net') })).toMatchObject({ reason: 'hasmoved', hard: true });
  });
});

describe('requireptr (full list)', () => {
  it('wider PTR wording yields to the reference block-list wording', () => {
    const v = decide(rcpt('550 Client host [192.0.2.1] blocked using dnsbl.example.net; your host does not have a PTR record'));
    expect(v).toMatchObject({ reason: 'blocked', decidedBy: { family: 'blocked', matched: 'blocked using' } });
    expect(v.decidedBy.overrode).toBe('requireptr: does not have a ptr record');
  });

  it('the reference sentence stands', () => {
    expect(decide(rcpt('550 5.7.25 Reverse DNS required; client host [192.0.2.1] blocked using dnsbl.example.net')).decidedBy).toMatchObject({
      family: 'requireptr',
    });
    expect(decide(rcpt('550 sorry, reverse DNS required for 192.0.2.1')).decidedBy).toMatchObject({ family: 'requireptr', matched: 'reverse dns required' });
  });
});

describe('contenterror (full list)', () => {
  it('wider header wording yields to the reference expiry wording', () => {
    const v = decide({ text: 'bare LF found in message; delivery expired' });
    expect(v).toMatchObject({ reason: 'expired', decidedBy: { rule: 'second-pass/phrase', matched: 'delivery expired', overrode: 'contenterror: bare lf' } });
  });

  it('the reference sentence stands', () => {
    expect(decide({ replyCode: 554, text: '554 duplicate header: Subject; delivery expired' })).toMatchObject({
      reason: 'contenterror',
      decidedBy: { matched: 'duplicate header' },
    });
  });
});

describe('partial lists override held wider wording (OVERRIDE_ONLY)', () => {
  it('lists which families are partial', () => {
    for (const f of ['userunknown', 'mailboxfull', 'mesgtoobig', 'exceedlimit', 'speeding', 'toomanyconn', 'virusdetected', 'securityerror', 'badreputation', 'notcompliantrfc'] as const) {
      expect(OVERRIDE_ONLY.has(f)).toBe(true);
    }
    // A text missing a partial list is not called wider wording.
    expect(referenceWording('552 storage allotment used up', 'mailboxfull')).toBe('unlisted');
  });

  it('userunknown: the reference wording overrides wider relay wording at RCPT', () => {
    const v = decide(rcpt('550 No such user here; this is not an open relay'));
    expect(v).toMatchObject({ reason: 'userunknown', hard: true, decidedBy: { rule: 'first-pass/phrase', family: 'userunknown' } });
    expect(v.decidedBy.overrode).toMatch(/^norelaying: /);
  });

  it('mailboxfull and mesgtoobig: the explanation names the reference phrase', () => {
    expect(decide(rcpt('552 Quota exceeded for a@example.org', 552)).decidedBy).toMatchObject({ family: 'mailboxfull', matched: 'quota exceeded' });
    expect(decide({ replyCode: 552, text: '552 Message size exceeds fixed maximum message size (10485760)', command: 'DATA' }).decidedBy).toMatchObject({
      family: 'mesgtoobig',
      matched: 'message size exceeds fixed maximum message size',
    });
  });

  it('exceedlimit: the reference phrase', () => {
    expect(decide({ replyCode: 552, text: '552 5.3.4 Message header size exceeds limit', command: 'DATA' }).decidedBy).toMatchObject({
      family: 'exceedlimit',
      matched: 'message header size exceeds limit',
    });
    expect(referenceWording('552 message header size exceeds limit', 'exceedlimit')).toBe('reference');
  });

  it('speeding: the reference wording overrides held wider sender wording', () => {
    const v = decide({ replyCode: 450, text: '450 Sender unknown to this server, please try again slower', command: 'MAIL' });
    expect(v).toMatchObject({ reason: 'ratelimited', decidedBy: { family: 'speeding', matched: 'please try again slower' } });
    expect(v.decidedBy.overrode).toMatch(/^rejected: /);
  });

  it('toomanyconn: the reference wording overrides held wider sender wording', () => {
    const v = decide({ replyCode: 421, text: '421 Sender unknown here; too many connections from your host.', command: 'MAIL' });
    expect(v).toMatchObject({ reason: 'ratelimited', decidedBy: { family: 'toomanyconn', matched: 'too many connections' } });
    expect(v.decidedBy.overrode).toMatch(/^rejected: /);
  });

  it('badreputation: the reference wording overrides held wider PTR wording', () => {
    const v = decide(rcpt("550 Your host does not have a PTR record and the sending MTA's poor reputation is known here"));
    expect(v).toMatchObject({ reason: 'badreputation', decidedBy: { family: 'badreputation', overrode: 'requireptr: does not have a ptr record' } });
  });

  it('notcompliantrfc: the reference wording overrides held wider PTR wording', () => {
    const v = decide({ replyCode: 550, text: '550 Your host does not have a PTR record; this message is not RFC 5322 compliant', command: 'DATA' });
    expect(v).toMatchObject({ reason: 'notcompliantrfc', decidedBy: { family: 'notcompliantrfc', overrode: 'requireptr: does not have a ptr record' } });
  });

  it('virusdetected: the reference wording overrides held wider DMARC wording', () => {
    const v = decide({ replyCode: 554, text: '554 DMARC check skipped; virus detected in attachment', command: 'DATA' });
    expect(v).toMatchObject({ reason: 'virusdetected', decidedBy: { rule: 'second-pass/phrase', matched: 'virus detected' } });
    expect(v.decidedBy.overrode).toMatch(/^authfailure: /);
  });

  it('securityerror: the reference wording overrides held wider header wording', () => {
    const v = decide({ replyCode: 554, text: '554 invalid header; authentication required' });
    expect(v).toMatchObject({ reason: 'securityerror', decidedBy: { rule: 'second-pass/phrase', matched: 'authentication required', overrode: 'contenterror: invalid header' } });
  });
});

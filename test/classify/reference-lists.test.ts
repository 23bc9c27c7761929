import { describe, expect, it } from 'vitest';
import { decideBounceReason } from '../../src/classify/reason.js';
import type { ReasonInput } from '../../src/classify/reason.js';
import { referenceWording } from '../../src/classify/reference.js';

// Wider wording vs the reference's own lists (src/classify/reference.ts). Each text is written
// for the test: one phrase that only mailpush's wider list of an earlier family knows, and one
// of the reference's own list of a later family. The reference decides the later family (its
// rule for the earlier one never fires), so mailpush must too.
const decide = (input: ReasonInput) => decideBounceReason(input);

describe('referenceWording', () => {
  it('tells the reference list, wider wording and unlisted families apart', () => {
    expect(referenceWording('554 5.7.1 message not accepted for policy reasons', 'policyviolation')).toBe('reference');
    expect(referenceWording('550 ip blocked', 'blocked')).toBe('wider');
    expect(referenceWording('501 5.1.3 bad recipient address syntax', 'syntaxerror')).toBe('unlisted');
  });
});

describe('wider wording of an earlier family yields to the reference wording of a later one', () => {
  it('blocked (wider) yields to policyviolation (reference, second pass)', () => {
    const v = decide({ status: '5.7.1', replyCode: 554, command: 'RCPT', text: '554 5.7.1 Denied by policy (ip blocked)' });
    expect(v).toMatchObject({ reason: 'policyviolation', decidedBy: { rule: 'second-pass/phrase', matched: 'denied by policy' } });
    expect(v.decidedBy.overrode).toBe('blocked: ip blocked');
  });

  it('rejected (wider) yields to blocked (reference): the client was refused', () => {
    const v = decide({ status: '5.7.1', replyCode: 554, command: 'RCPT', text: '554 5.7.1 Sender unknown; Client host [192.0.2.7] blocked using dnsbl.example.net' });
    expect(v).toMatchObject({ reason: 'blocked', hard: false, decidedBy: { rule: 'first-pass/phrase' } });
    expect(v.decidedBy.overrode).toMatch(/^rejected: /);
  });

  it('rejected (wider) yields to spamdetected (reference) after DATA', () => {
    expect(decide({ replyCode: 554, command: 'DATA', text: '554 Sender not allowed: message rejected as spam' })).toMatchObject({
      reason: 'spamdetected',
      decidedBy: { family: 'spamdetected' },
    });
  });

  it('hostunknown (wider) yields to networkerror (reference): a failed lookup, not a missing domain', () => {
    const v = decide({ replyCode: 451, text: '451 example.org: no such host (host name lookup failure)' });
    expect(v).toMatchObject({ reason: 'networkerror', hard: false, decidedBy: { rule: 'second-pass/phrase', matched: 'host name lookup failure' } });
  });

  it('hostunknown (wider) yields to notaccept (reference)', () => {
    expect(decide({ replyCode: 550, command: 'RCPT', text: '550 NXDOMAIN: example.org does not accept mail' })).toMatchObject({ reason: 'notaccept' });
  });

  it('networkerror (wider) yields to expired (reference)', () => {
    expect(decide({ text: 'dns error while delivering; giving up on example.org' })).toMatchObject({
      reason: 'expired',
      decidedBy: { rule: 'second-pass/phrase', matched: 'giving up on' },
    });
  });

  it("systemerror (wider) yields to mailererror (reference): a local delivery program's failure", () => {
    const text = 'Command died with status 126: /usr/local/bin/filter: bad interpreter';
    expect(decide({ diagnosticType: 'X-Unix', text })).toMatchObject({ reason: 'mailererror', decidedBy: { matched: 'command died with status ', overrode: 'systemerror: bad interpreter' } });
    expect(decide({ text })).toMatchObject({ reason: 'mailererror' });
    // The reference's own system-error wording still comes first.
    expect(decide({ diagnosticType: 'X-Unix', text: 'local configuration error; Command died with status 1' })).toMatchObject({ reason: 'systemerror' });
  });

  it('a held wider hit stands when nothing later has the reference wording (unchanged decisions)', () => {
    expect(decide({ replyCode: 550, command: 'RCPT', text: '550 ip blocked' })).toMatchObject({ reason: 'blocked', decidedBy: { rule: 'first-pass/phrase', matched: 'ip blocked' } });
    expect(decide({ replyCode: 550, command: 'RCPT', text: '550 example.org: no such host' })).toMatchObject({ reason: 'hostunknown', hard: true });
    // A later family with no reference list does not override it.
    expect(decide({ status: '5.7.1', replyCode: 554, command: 'RCPT', text: '554 5.7.1 ip blocked: infected host' })).toMatchObject({ reason: 'blocked' });
    expect(decide({ replyCode: 554, command: 'RCPT', text: '554 ip blocked' }).decidedBy.overrode).toBeUndefined();
  });

  it("the format's generic provisional reason and a specific status override a held wider hit, and say so", () => {
    expect(decide({ provisional: 'systemerror', replyCode: 550, command: 'RCPT', text: '550 ip blocked' })).toMatchObject({
      reason: 'systemerror',
      decidedBy: { rule: 'provisional', overrode: 'blocked: ip blocked' },
    });
    expect(decide({ status: '5.2.0', replyCode: 550, command: 'RCPT', text: '550 5.2.0 ip blocked' })).toMatchObject({
      reason: 'filtered',
      decidedBy: { rule: 'second-pass/status', overrode: 'blocked: ip blocked' },
    });
  });

  it('a later status overrides a held wider hit (the reference reaches it by the status)', () => {
    expect(decide({ status: '5.2.2', replyCode: 552, command: 'RCPT', text: '552 5.2.2 sender not allowed' })).toMatchObject({ reason: 'mailboxfull' });
    expect(decide({ status: '4.7.1', replyCode: 450, command: 'RCPT', text: '450 4.7.1 sender unknown' })).toMatchObject({ reason: 'blocked', decidedBy: { rule: 'first-pass/status' } });
  });
});

describe('a user-unknown status yields only to the reference wording of blocked, notaccept and filtered', () => {
  it('5.1.1 with wider client-block wording stays userunknown (hard)', () => {
    expect(decide({ status: '5.1.1', replyCode: 550, command: 'RCPT', text: '550 5.1.1 <bob@example.org>: unknown, ip blocked' })).toMatchObject({
      reason: 'userunknown',
      hard: true,
      decidedBy: { rule: 'first-pass/status' },
    });
  });

  it("5.1.1 yields to the reference's own filter sentences only", () => {
    expect(decide({ status: '5.1.1', replyCode: 550, command: 'RCPT', text: '550 5.1.1 mailbox unavailable: the recipient has blocked this sender' })).toMatchObject({ reason: 'userunknown', hard: true });
    expect(decide({ status: '5.1.1', replyCode: 550, command: 'RCPT', text: '550 5.1.1 refused due to recipient preferences' })).toMatchObject({ reason: 'filtered', hard: false });
  });

  it("5.1.1 with the reference's block-list wording is blocked", () => {
    expect(decide({ status: '5.1.1', replyCode: 550, command: 'RCPT', text: '550 5.1.1 Client host [192.0.2.7] blocked using dnsbl.example.net' })).toMatchObject({ reason: 'blocked', hard: false });
  });
});

describe("Microsoft's own X.4.3NN statuses select its table without a host name", () => {
  it('5.4.312 is networkerror, 5.4.316 expired', () => {
    expect(decide({ status: '5.4.312', replyCode: 550, text: '550 5.4.312 Message expired, DNS query failed' })).toMatchObject({
      reason: 'networkerror',
      decidedBy: { rule: 'host/microsoft' },
    });
    expect(decide({ status: '5.4.316', replyCode: 550, text: '550 5.4.316 Message expired, connection refused' })).toMatchObject({ reason: 'expired', decidedBy: { rule: 'host/microsoft' } });
  });
});

describe("the reference's own phrases are in mailpush's families", () => {
  it("MailMarshal's 'rule imposed as ... is blacklisted on' after DATA is spamdetected (the reference's SpamDetected pair), not a block list", () => {
    expect(decide({ replyCode: 554, command: 'DATA', text: '554 Rule imposed as Bulk Mail is blacklisted on this server' })).toMatchObject({ reason: 'spamdetected' });
  });
});

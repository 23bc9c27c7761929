import { describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import { parseComplaint } from '../../src/feedback/arf.js';
import { parseBounce } from '../../src/feedback/dsn.js';

// Synthetic ARF reports in the shapes mailbox providers send (RFC 5965 and common variants).

function arf(feedbackFields: readonly string[], returned: readonly string[], options: { returnedType?: string; eol?: string } = {}): string {
  const lines = [
    'From: Example FBL <fbl@isp.example>',
    'To: abuse@sender.example',
    'Subject: FW: Your newsletter',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type="feedback-report";',
    '    boundary="part_1"',
    '',
    'This is a multi-part message in MIME format.',
    '',
    '--part_1',
    'Content-Type: text/plain; charset="US-ASCII"',
    '',
    'This is an email abuse report for an email message received from IP 192.0.2.44.',
    '',
    '--part_1',
    'Content-Type: message/feedback-report',
    '',
    ...feedbackFields,
    '',
    '--part_1',
    `Content-Type: ${options.returnedType ?? 'message/rfc822'}`,
    'Content-Disposition: inline',
    '',
    ...returned,
    '--part_1--',
    '',
  ];
  return lines.join(options.eol ?? '\n');
}

const RETURNED = [
  'Return-Path: <bounces+abc@sender.example>',
  'From: News <news@sender.example>',
  'To: Vic <vic@isp.example>',
  'Subject: =?UTF-8?B?V2Vla2x5IG5ld3M=?=',
  'Message-ID: <news-7@sender.example>',
  'Date: Tue, 02 Jan 2024 09:00:00 +0000',
  'X-Mailpush-Job-Id: job_news7',
  'X-Mailpush-Message-Id: msg_news7',
  '',
  'Hello Vic',
];

describe('parseComplaint: ARF reports', () => {
  it('reads every field of an RFC 5965 report', () => {
    const raw = arf(
      [
        'Feedback-Type: abuse',
        'User-Agent: ExampleFBL/1.0',
        'Version: 1',
        'Original-Mail-From: <bounces+abc@sender.example>',
        'Original-Rcpt-To: <vic@isp.example>',
        'Arrival-Date: Tue, 02 Jan 2024 09:00:05 +0000',
        'Source-IP: 192.0.2.44',
        'Reported-Domain: sender.example',
        'Reported-URI: https://sender.example/unsubscribe',
        'Authentication-Results: isp.example; dkim=pass header.d=sender.example',
      ],
      RETURNED,
    );
    const c = parseComplaint(raw);
    expect(c).toMatchObject({
      feedbackType: 'abuse',
      arf: true,
      userAgent: 'ExampleFBL/1.0',
      version: '1',
      originalMailFrom: 'bounces+abc@sender.example',
      originalRcptTo: 'vic@isp.example',
      originalRcptTos: ['vic@isp.example'],
      recipientSource: 'report',
      arrivalDate: Date.UTC(2024, 0, 2, 9, 0, 5),
      sourceIp: '192.0.2.44',
      reportedDomain: 'sender.example',
      reportedUris: ['https://sender.example/unsubscribe'],
      originalMessageId: '<news-7@sender.example>',
      from: 'fbl@isp.example',
    });
    expect(c?.authenticationResults).toContain('dkim=pass');
    expect(c?.originalHeaders).toMatchObject({ subject: 'Weekly news', jobId: 'job_news7', mailpushMessageId: 'msg_news7' });
  });

  it('recovers a redacted recipient from the To of the returned message', () => {
    const raw = arf(['Feedback-Type: abuse', 'User-Agent: Redactor/2.0', 'Version: 1', 'Arrival-Date: Tue, 02 Jan 2024 09:00:05 +0000'], RETURNED, { eol: '\r\n' });
    const c = parseComplaint(raw);
    expect(c).toMatchObject({ originalRcptTo: 'vic@isp.example', recipientSource: 'returned-to', originalMessageId: '<news-7@sender.example>' });
    expect(c?.originalHeaders?.jobId).toBe('job_news7');
  });

  it('leaves the recipient unknown when the returned message is redacted too, keeping the correlation headers', () => {
    const redacted = RETURNED.map((l) => (l.startsWith('To:') ? 'To: xxxxxxxx@isp.example' : l));
    const c = parseComplaint(arf(['Feedback-Type: abuse', 'Version: 1'], redacted));
    expect(c?.originalRcptTo).toBeUndefined();
    expect(c?.originalHeaders).toMatchObject({ jobId: 'job_news7', mailpushMessageId: 'msg_news7' });
    const undisclosed = RETURNED.map((l) => (l.startsWith('To:') ? 'To: <Undisclosed Recipients>' : l));
    expect(parseComplaint(arf(['Feedback-Type: abuse', 'Version: 1'], undisclosed))?.originalRcptTo).toBeUndefined();
  });

  it('reads auth-failure reports with a text/rfc822-headers part and Received-Date', () => {
    const raw = arf(
      ['Feedback-Type: auth-failure', 'Version: 1', 'User-Agent: OpenDMARC/1.4', 'Auth-Failure: dmarc', 'Received-Date: Wed, 03 Jan 2024 12:00:00 +0000', 'Source-IP: 2001:db8::25'],
      RETURNED.slice(0, 8),
      { returnedType: 'text/rfc822-headers' },
    );
    expect(parseComplaint(raw)).toMatchObject({
      feedbackType: 'auth-failure',
      arrivalDate: Date.UTC(2024, 0, 3, 12),
      sourceIp: '2001:db8::25',
      originalRcptTo: 'vic@isp.example',
      originalMessageId: '<news-7@sender.example>',
    });
  });

  it('keeps every Original-Rcpt-To and drops what is not an address or an IP', () => {
    const raw = arf(
      ['Feedback-Type: Abuse', 'Version: 1', 'Original-Rcpt-To: one@isp.example', 'Original-Rcpt-To: two@ISP.example', 'Original-Rcpt-To: not an address', 'Source-IP: 999.1.1.1; DROP TABLE'],
      RETURNED,
    );
    const c = parseComplaint(raw);
    expect(c?.feedbackType).toBe('abuse');
    expect(c?.originalRcptTos).toEqual(['one@isp.example', 'two@isp.example']);
    expect(c?.sourceIp).toBeUndefined();
  });

  it('is not a bounce for parseBounce', () => {
    expect(parseBounce(arf(['Feedback-Type: abuse', 'Version: 1'], RETURNED)).kind).toBe('not-bounce');
  });
});

describe('parseComplaint: other complaint forms', () => {
  it('reads an unsubscribe forward (Apple Mail) as an opt-out by its sender', () => {
    const raw = [
      'From: wil@icloud.example',
      'To: unsubscribe-123@sender.example',
      'Subject: unsubscribe',
      'Auto-Submitted: auto-replied',
      'X-Apple-Unsubscribe: true',
      '',
      'Apple Mail sent this email to unsubscribe from the message "Weekly news".',
    ].join('\n');
    expect(parseComplaint(raw)).toMatchObject({ feedbackType: 'opt-out', arf: false, originalRcptTo: 'wil@icloud.example', recipientSource: 'reporter' });
  });

  it('reads Hotmail-style forwards that name the recipient in X-HmXmrOriginalRecipient', () => {
    const raw = [
      'From: staff@hotmail.example',
      'To: fbl@sender.example',
      'Subject: complaint',
      'Content-Type: multipart/mixed; boundary=m',
      '',
      '--m',
      'Content-Type: message/rfc822',
      '',
      'X-HmXmrOriginalRecipient: <xena@hotmail.example>',
      'From: news@sender.example',
      'Message-ID: <hm-1@sender.example>',
      '',
      'Hi',
      '--m--',
    ].join('\n');
    expect(parseComplaint(raw)).toMatchObject({ feedbackType: 'abuse', arf: false, originalRcptTo: 'xena@hotmail.example', originalMessageId: '<hm-1@sender.example>' });
  });

  it('returns undefined for bounces, ordinary mail and garbage', () => {
    const dsn = 'From: MAILER-DAEMON@x.example\nSubject: Undelivered\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.1.1\n--b--\n';
    expect(parseComplaint(dsn)).toBeUndefined();
    expect(parseComplaint('From: a@b.example\nSubject: hi\n\nhello')).toBeUndefined();
    expect(parseComplaint('')).toBeUndefined();
    expect(parseComplaint(Uint8Array.from({ length: 2048 }, (_, i) => (i * 31) % 256))).toBeUndefined();
  });
});

describe('parseComplaint: malformed, hostile and huge input', () => {
  it('rejects only what is neither a string nor bytes, with a typed validation error', () => {
    for (const bad of [undefined, null, 1, {}, Symbol('x')]) {
      let caught: unknown;
      try {
        parseComplaint(bad as unknown as string);
      } catch (err) {
        caught = err;
      }
      expect(isMailError(caught)).toBe(true);
      expect((caught as { code: string }).code).toBe(MailErrorCode.VALIDATION);
    }
  });

  it('defaults an empty or missing Feedback-Type to other and survives a truncated report', () => {
    const empty = arf([], RETURNED);
    expect(parseComplaint(empty)).toMatchObject({ feedbackType: 'other', arf: true, originalRcptTo: 'vic@isp.example' });
    const full = arf(['Feedback-Type: fraud', 'Version: 1', 'Original-Rcpt-To: vic@isp.example'], RETURNED);
    const cut = full.slice(0, full.indexOf('Original-Rcpt-To') + 12);
    expect(parseComplaint(cut)).toMatchObject({ feedbackType: 'fraud', arf: true });
  });

  it('does not pass CR/LF or brackets from hostile fields through', () => {
    const raw = arf(['Feedback-Type: abuse\u0000<script>', 'User-Agent: evil\u0007agent', 'Original-Rcpt-To: <yan@isp.example>>\rBcc: z@x.example'], RETURNED);
    const c = parseComplaint(raw);
    expect(c?.feedbackType).toMatch(/^[\w-]+$/);
    expect(c?.userAgent).not.toMatch(/[\u0000-\u001f]/);
    for (const a of c?.originalRcptTos ?? []) expect(a).not.toMatch(/[\s<>]/);
  });

  it('bounds the work on a 10 MB report', () => {
    const raw = arf(['Feedback-Type: abuse', 'Version: 1', 'Original-Rcpt-To: vic@isp.example'], [...RETURNED.slice(0, 9), 'x'.repeat(10 * 1024 * 1024)]);
    const start = performance.now();
    expect(parseComplaint(raw)?.originalRcptTo).toBe('vic@isp.example');
    expect(performance.now() - start).toBeLessThan(3000);
  });
});

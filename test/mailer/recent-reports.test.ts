import { describe, expect, it } from 'vitest';
import { MailError, MailErrorCode } from '../../src/errors.js';
import type { DeliveryReport } from '../../src/mailer/options.js';
import { RecentReports } from '../../src/mailer/recent-reports.js';

const sent = (n: number, extra: Partial<DeliveryReport['recipients'][number]> = {}): DeliveryReport =>
  Object.freeze({
    id: `msg_${n}`,
    messageId: `<${n}@x.example>`,
    status: 'sent',
    recipients: Object.freeze([{ address: `u${n}@d.example`, status: 'sent', jobId: `msg_${n}/0`, attempts: 1, transport: 'smtp', response: '250 2.0.0 Ok: queued as ABC', providerMessageId: `p${n}`, ...extra }]),
  }) as DeliveryReport;

describe('RecentReports', () => {
  it('gives back a report equal to the one set, for every shape of result', () => {
    const recent = new RecentReports(10);
    const reports: DeliveryReport[] = [
      sent(1),
      // Optional fields absent, or empty strings: both come back as they were.
      Object.freeze({ id: 'm2', messageId: '<2@x>', status: 'partial', recipients: Object.freeze([{ address: 'a@x.test', status: 'sent', jobId: 'm2/0', attempts: 2 }, { address: 'ü@日本.example', status: 'suppressed', jobId: 'm2/1', attempts: 0, response: '' }]) }) as DeliveryReport,
      Object.freeze({ id: 'm3', messageId: '<3@x>', status: 'failed', recipients: Object.freeze([]) }) as DeliveryReport,
    ];
    for (const r of reports) recent.set(r);
    for (const r of reports) expect(recent.get(r.id)).toEqual(r);
    expect(Object.isFrozen(recent.get('m2'))).toBe(true);
    expect(Object.isFrozen(recent.get('m2')?.recipients)).toBe(true);
  });

  it('keeps a report with an error, or with a NUL in a field, as it is', () => {
    const recent = new RecentReports(10);
    const error = new MailError('550 5.1.1 unknown user', { code: MailErrorCode.PERMANENT });
    const failed = Object.freeze({ id: 'f', messageId: '<f@x>', status: 'failed', recipients: Object.freeze([{ address: 'a@x.test', status: 'failed', jobId: 'f/0', attempts: 1, error }]) }) as DeliveryReport;
    const odd = sent(9, { response: '250 ok\0trailing' });
    recent.set(failed);
    recent.set(odd);
    expect(recent.get('f')).toBe(failed);
    expect(recent.get('f')?.recipients[0]?.error).toBe(error);
    expect(recent.get('msg_9')).toBe(odd);
  });

  it('forgets the oldest beyond its capacity; a report set again is the newest', () => {
    const recent = new RecentReports(3);
    for (let n = 1; n <= 3; n++) recent.set(sent(n));
    recent.set(sent(1)); // msg_1 is now the newest: msg_2 goes first
    recent.set(sent(4));
    expect(['msg_1', 'msg_2', 'msg_3', 'msg_4'].map((id) => recent.get(id)?.id)).toEqual(['msg_1', undefined, 'msg_3', 'msg_4']);
    expect(recent.size).toBe(3);
    for (let n = 5; n < 5_000; n++) recent.set(sent(n));
    expect(recent.size).toBe(3);
    expect(recent.get('msg_4999')).toEqual(sent(4999));
    expect(recent.get('msg_4996')).toBeUndefined();
    expect(() => new RecentReports(0)).toThrow(/capacity/);
  });
});

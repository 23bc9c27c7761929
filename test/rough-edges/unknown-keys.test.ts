import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMailer, MailErrorCode, memoryTransport } from '../../src/index.js';
import { createTestMailer } from '../../src/testing/index.js';
import { MAILER_OPTION_KEYS } from '../../src/mailer/options.js';
import { SEND_OPTION_KEYS } from '../../src/mailer/accept.js';
import { MESSAGE_KEYS } from '../../src/message/normalize.js';
import { findUnknownKey, nearestName } from '../../src/validation/known-keys.js';

async function rejection(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    return err as Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

describe('unknown keys', () => {
  it('refuses an unknown mailer option with CONFIG and the nearest name', () => {
    let error: Record<string, unknown> | undefined;
    try {
      createMailer({ transport: memoryTransport(), retires: { maxAttempts: 3 } } as never);
    } catch (err) {
      error = err as Record<string, unknown>;
    }
    expect(error).toMatchObject({ code: MailErrorCode.CONFIG, option: 'retires' });
    expect(String(error?.message)).toMatch(/Unknown mailer option "retires"; did you mean `retry`\?/);
  });

  it('refuses an unknown preflight option when the mailer is created, naming its path', () => {
    expect(() => createMailer({ transport: memoryTransport(), preflight: { requireForMarketting: true } } as never)).toThrow(
      expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'preflight.requireForMarketting', message: expect.stringMatching(/did you mean `requireForMarketing`\?/) }),
    );
    // The mailer's own names and those of preflightDomains are accepted.
    const mailer = createMailer({ transport: memoryTransport(), preflight: { senders: ['example.com'], requireForMarketing: false, cacheMs: 1000, timeoutMs: 500, required: [] } });
    void mailer.close();
  });

  it('refuses an unknown retry option, naming its path', () => {
    expect(() => createMailer({ transport: memoryTransport(), retry: { maxAttemps: 3 } } as never)).toThrow(
      expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'retry.maxAttemps', message: expect.stringMatching(/did you mean `maxAttempts`\?/) }),
    );
  });

  it('refuses unknown keys inside limits, throttle and feedback, naming the path', () => {
    const make = (extra: object) => () => createMailer({ transport: memoryTransport(), ...extra } as never);
    expect(make({ limits: { concurency: 5 } })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'limits.concurency', message: expect.stringMatching(/did you mean `concurrency`\?/) }));
    expect(make({ limits: { default: { ratePerSec: 5 } } })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'limits.default.ratePerSec' }));
    expect(make({ limits: { domains: { 'gmail.com': { brust: 5 } } } })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, message: expect.stringMatching(/did you mean `burst`\?/) }));
    expect(make({ limits: { transport: { rate: 5 } } })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'limits.transport.rate' }));
    expect(make({ throttle: { pauseMS: 5 } })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'throttle.pauseMS', message: expect.stringMatching(/did you mean `pauseMs`\?/) }));
    expect(make({ feedback: { rawtrust: 'mailbox' } })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'feedback.rawtrust', message: expect.stringMatching(/did you mean `rawTrust`\?/) }));
    expect(make({ limits: { concurrency: 5, default: { ratePerSecond: 5 } }, throttle: { pauseMs: 10 } })).not.toThrow();
  });

  it('refuses an unknown message field with VALIDATION, queues nothing', async () => {
    const mailer = createTestMailer();
    const error = await rejection(mailer.send({ fromm: 'a@example.com', from: 'b@example.com', to: 'c@example.org', text: 'x' } as never));
    expect(error).toMatchObject({ code: MailErrorCode.VALIDATION });
    expect(String(error.message)).toMatch(/Unknown message field "fromm"; did you mean `from`\?/);
    await mailer.flush();
    mailer.assertNothingSent();
  });

  it('refuses an unknown send option with VALIDATION and the nearest name', async () => {
    const mailer = createTestMailer();
    const error = await rejection(mailer.send({ from: 'a@example.com', to: 'c@example.org', text: 'x' }, { priorty: 'critical' } as never));
    expect(error).toMatchObject({ code: MailErrorCode.VALIDATION });
    expect(String(error.message)).toMatch(/Unknown send option "priorty"; did you mean `priority`\?/);
    expect(mailer.stats().totals.queued).toBe(0);
  });

  it('names no suggestion when nothing is close, and lists the known names', async () => {
    const mailer = createTestMailer();
    const error = await rejection(mailer.send({ from: 'a@example.com', to: 'c@example.org', text: 'x' }, { zzzzzzzzzz: 1 } as never));
    expect(String(error.message)).not.toMatch(/did you mean/);
    expect(String(error.message)).toMatch(/known: .*idempotencyKey.*priority/);
  });

  it('keeps the specific hint for nodemailer fields mailpush does not take', async () => {
    const mailer = createTestMailer();
    const error = await rejection(mailer.send({ from: 'a@example.com', to: 'c@example.org', text: 'x', envelope: {} } as never));
    expect(String(error.message)).toMatch(/`envelope` is not supported/);
  });

  it('accepts the names other features add (templates, lists, campaigns, tracking, logger)', () => {
    for (const k of ['unsubscribe', 'postalAddress', 'tracking', 'complaintGuard', 'logger']) expect(MAILER_OPTION_KEYS.has(k)).toBe(true);
    for (const k of ['template', 'vars', 'list', 'campaign']) expect(MESSAGE_KEYS.has(k)).toBe(true);
    expect(SEND_OPTION_KEYS.has('track')).toBe(true);
  });

  it('suggests by edit distance, transpositions and case', () => {
    expect(nearestName('retires', MAILER_OPTION_KEYS)).toBe('retry');
    expect(nearestName('fromm', MESSAGE_KEYS)).toBe('from');
    expect(nearestName('priorty', SEND_OPTION_KEYS)).toBe('priority');
    expect(nearestName('sendat', SEND_OPTION_KEYS)).toBe('sendAt');
    expect(nearestName('subjcet', MESSAGE_KEYS)).toBe('subject');
    expect(nearestName('replyto', MESSAGE_KEYS)).toBe('replyTo');
    expect(nearestName('qqqqqqqq', MESSAGE_KEYS)).toBeUndefined();
    expect(findUnknownKey(Object.create({ inherited: 1 }) as object, MESSAGE_KEYS)).toBeUndefined();
  });

  it('lists every field of MailerOptions, SendOptions and MessageInput (a new option must be added to its list)', () => {
    // The top-level fields of an interface, read from its source (two-space indent, `readonly name`).
    const fieldsOf = (file: string, name: string): string[] => {
      const src = readFileSync(new URL(`../../src/${file}`, import.meta.url), 'utf8');
      const start = src.indexOf(`export interface ${name} {`);
      expect(start, name).toBeGreaterThanOrEqual(0);
      const body = src.slice(start, src.indexOf('\n}\n', start));
      return [...body.matchAll(/^  readonly (\w+)\??:/gm)].map((m) => m[1]!);
    };
    // The reader works: it finds the fields everyone knows.
    expect(fieldsOf('mailer/options.ts', 'MailerOptions')).toEqual(expect.arrayContaining(['transport', 'retry', 'limits']));
    expect(fieldsOf('types.ts', 'MessageInput')).toEqual(expect.arrayContaining(['from', 'to', 'subject']));
    expect(fieldsOf('mailer/options.ts', 'MailerOptions').filter((k) => !MAILER_OPTION_KEYS.has(k))).toEqual([]);
    expect(fieldsOf('mailer/options.ts', 'SendOptions').filter((k) => !SEND_OPTION_KEYS.has(k))).toEqual([]);
    expect(fieldsOf('types.ts', 'MessageInput').filter((k) => !MESSAGE_KEYS.has(k))).toEqual([]);
  });
});

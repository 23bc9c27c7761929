import { describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import type { MailError } from '../../src/errors.js';
import { allRecipients, normalizeMessage } from '../../src/message/index.js';
import { prepareMessage } from '../../src/message/prepared.js';
import {
  FAULT_PRESETS,
  FaultInjector,
  compileRecipientMatch,
  createFaultInjector,
  faultError,
  formatReply,
  resolveFault,
} from '../../src/transports/faults.js';
import type { Fault, FaultPreset } from '../../src/transports/faults.js';
import type { PreparedMessage } from '../../src/types.js';

function prepare(subject = 'Hi'): PreparedMessage {
  const message = normalizeMessage({ from: 'app@example.com', to: 'ann@example.com', subject, text: 'x' }, { now: 0 });
  return prepareMessage('job_1', message, { from: message.returnPath, to: allRecipients(message) });
}

function configErrorOf(fn: () => unknown): MailError {
  try {
    fn();
  } catch (err) {
    expect(isMailError(err)).toBe(true);
    expect((err as MailError).code).toBe(MailErrorCode.CONFIG);
    return err as MailError;
  }
  throw new Error('expected a configuration error');
}

describe('FAULT_PRESETS', () => {
  it('formats the provider throttle replies exactly as the providers send them', () => {
    expect(formatReply(FAULT_PRESETS['throttle-gmail'])).toMatch(
      /^421 4\.7\.28 Gmail has detected an unusual rate of unsolicited email originating from your IP address\. .*temporarily rate limited/,
    );
    expect(formatReply(FAULT_PRESETS['throttle-microsoft'])).toBe(
      '451 4.7.500 Server busy. Please try again later from [192.0.2.10]. (S77714)',
    );
    expect(formatReply(FAULT_PRESETS['throttle-yahoo'])).toBe(
      '421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred due to unexpected volume or user complaints',
    );
  });

  it('is frozen', () => {
    expect(Object.isFrozen(FAULT_PRESETS)).toBe(true);
  });

  it.each<[FaultPreset, string, boolean]>([
    ['tempfail', MailErrorCode.TRANSIENT, true],
    ['permfail', MailErrorCode.PERMANENT, false],
    ['throttle-gmail', MailErrorCode.THROTTLED, true],
    ['throttle-microsoft', MailErrorCode.THROTTLED, true],
    ['throttle-yahoo', MailErrorCode.THROTTLED, true],
    ['connection', MailErrorCode.CONNECTION, true],
    ['timeout', MailErrorCode.TIMEOUT, true],
    ['recipient-unknown', MailErrorCode.PERMANENT, false],
    ['mailbox-full', MailErrorCode.TRANSIENT, true],
  ])('classifies %s as %s (retryable %s)', (preset, code, retryable) => {
    const err = faultError(preset, { transport: 'memory' });
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(retryable);
    expect(err.transport).toBe('memory');
    const reply = FAULT_PRESETS[preset];
    if (reply.responseCode !== undefined) expect(err.responseCode).toBe(reply.responseCode);
    if (reply.enhancedStatus !== undefined) expect(err.enhancedStatus).toBe(reply.enhancedStatus);
  });

  it('gives the Gmail throttle at least the 10 minute pause Gmail asks for', () => {
    expect(faultError('throttle-gmail').retryAfterMs).toBeGreaterThanOrEqual(10 * 60_000);
  });

  it('marks an unknown recipient as a hard bounce for that recipient', () => {
    const err = faultError('recipient-unknown', { recipient: 'gone@example.com' });
    expect(err.recipient).toBe('gone@example.com');
    expect(err.category).toBe('userunknown');
  });
});

describe('resolveFault', () => {
  it('returns a custom reply as given', () => {
    const reply = { responseCode: 450, enhancedStatus: '4.2.1', text: 'The user you are trying to contact is receiving mail too quickly' };
    expect(resolveFault(reply)).toBe(reply);
    expect(formatReply(reply)).toBe('450 4.2.1 The user you are trying to contact is receiving mail too quickly');
    expect(formatReply({ responseCode: 451, text: 'later' })).toBe('451 later');
    expect(formatReply({ errorCode: 'ECONNRESET', text: 'reset' })).toBe('reset');
  });

  it.each<[unknown, string]>([
    ['nonsense', 'fault'],
    ['toString', 'fault'],
    [null, 'fault'],
    [{ responseCode: 250, text: 'ok' }, 'fault.responseCode'],
    [{ responseCode: 451.5, text: 'x' }, 'fault.responseCode'],
    [{ text: 'no code at all' }, 'fault.errorCode'],
    [{ responseCode: 451, enhancedStatus: '5.1.1', text: 'x' }, 'fault.enhancedStatus'],
    [{ responseCode: 451, enhancedStatus: '4.7', text: 'x' }, 'fault.enhancedStatus'],
    [{ responseCode: 451, text: 'line\r\n250 forged' }, 'fault.text'],
    [{ responseCode: 451, text: 'x'.repeat(2001) }, 'fault.text'],
    [{ responseCode: 451 }, 'fault.text'],
  ])('rejects %o naming %s', (fault, option) => {
    expect(configErrorOf(() => resolveFault(fault as Fault)).option).toBe(option);
  });
});

describe('compileRecipientMatch', () => {
  it('matches exact addresses case-insensitively', () => {
    const m = compileRecipientMatch('Ann@Example.com');
    expect(m('ann@example.com')).toBe(true);
    expect(m('ann@example.com.evil')).toBe(false);
    expect(m('xann@example.com')).toBe(false);
  });

  it('matches a whole domain with "@domain" but not its subdomains', () => {
    const m = compileRecipientMatch('@example.com');
    expect(m('a@EXAMPLE.com')).toBe(true);
    expect(m('a@sub.example.com')).toBe(false);
    expect(m('a@notexample.com')).toBe(false);
  });

  it('matches globs with * and ?', () => {
    expect(compileRecipientMatch('*@slow.test')('anyone@slow.test')).toBe(true);
    expect(compileRecipientMatch('*@slow.test')('anyone@slow.test.com')).toBe(false);
    expect(compileRecipientMatch('user?@*')('user1@x.y')).toBe(true);
    expect(compileRecipientMatch('user?@*')('user12@x.y')).toBe(false);
    expect(compileRecipientMatch('*')('')).toBe(true);
    expect(compileRecipientMatch('a*b*c')('aXXbYYc')).toBe(true);
    expect(compileRecipientMatch('a*b*c')('aXXbYY')).toBe(false);
  });

  it('treats regex characters in globs literally', () => {
    const m = compileRecipientMatch('a.b+*@x.test');
    expect(m('a.b+tag@x.test')).toBe(true);
    expect(m('aXb+tag@x.test')).toBe(false);
  });

  it('stays fast on hostile globs', () => {
    const m = compileRecipientMatch(`${'*a'.repeat(30)}*b`);
    const started = performance.now();
    expect(m('a'.repeat(10_000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('uses a RegExp without carrying lastIndex between calls', () => {
    const m = compileRecipientMatch(/@example\.com$/gi);
    expect([m('a@example.com'), m('b@example.com'), m('c@example.com')]).toEqual([true, true, true]);
  });

  it('uses a predicate as is', () => {
    const fn = (r: string): boolean => r.length > 3;
    expect(compileRecipientMatch(fn)).toBe(fn);
  });

  it.each(['', 5, null, 'x'.repeat(1001)])('rejects %o', (match) => {
    expect(configErrorOf(() => compileRecipientMatch(match as never)).option).toBe('match');
  });
});

describe('FaultInjector', () => {
  it('is inactive when empty and after reset()', () => {
    const f = createFaultInjector();
    expect(f).toBeInstanceOf(FaultInjector);
    expect(f.active).toBe(false);
    f.failNext().failWhen(() => true).rejectRecipients('@x.test').setLatency(5);
    expect(f.active).toBe(true);
    expect(f.hasRecipientRules).toBe(true);
    f.reset();
    expect(f.active).toBe(false);
    expect(f.takeFault(prepare())).toBeUndefined();
    expect(f.latencyFor(prepare())).toBe(0);
  });

  it('consumes failNext entries in order before failWhen rules', () => {
    const f = new FaultInjector().failNext(2, 'tempfail').failNext(1, 'permfail').failWhen(() => true, 'throttle-yahoo', { times: 1 });
    const codes = Array.from({ length: 5 }, () => f.takeFault(prepare(), 'smtp')?.code);
    expect(codes).toEqual([
      MailErrorCode.TRANSIENT,
      MailErrorCode.TRANSIENT,
      MailErrorCode.PERMANENT,
      MailErrorCode.THROTTLED,
      undefined,
    ]);
  });

  it('applies failWhen to matching sends only', () => {
    const f = new FaultInjector().failWhen((p) => p.message.subject === 'boom');
    expect(f.takeFault(prepare('fine'))).toBeUndefined();
    expect(f.takeFault(prepare('boom'))?.code).toBe(MailErrorCode.TRANSIENT);
    expect(f.takeFault(prepare('boom'))?.code).toBe(MailErrorCode.TRANSIENT);
  });

  it('refuses matching recipients, `times` times', () => {
    const f = new FaultInjector().rejectRecipients('*@gone.test', 'recipient-unknown', { times: 2 });
    expect(f.takeRecipientFault('a@ok.test')).toBeUndefined();
    const err = f.takeRecipientFault('a@gone.test', 'memory');
    expect(err?.recipient).toBe('a@gone.test');
    expect(err?.transport).toBe('memory');
    expect(f.takeRecipientFault('b@gone.test')).toBeDefined();
    expect(f.takeRecipientFault('c@gone.test')).toBeUndefined();
  });

  it('computes latency from a function', () => {
    const f = new FaultInjector().setLatency((p) => (p.message.subject === 'slow' ? 250 : 0));
    expect(f.latencyFor(prepare('slow'))).toBe(250);
    expect(f.latencyFor(prepare('fast'))).toBe(0);
    f.setLatency(() => Number.NaN);
    expect(configErrorOf(() => f.latencyFor(prepare())).option).toBe('latency');
  });

  it.each<[string, (f: FaultInjector) => unknown, string]>([
    ['failNext(0)', (f) => f.failNext(0), 'count'],
    ['failNext(1.5)', (f) => f.failNext(1.5), 'count'],
    ['failNext(-1)', (f) => f.failNext(-1), 'count'],
    ['failNext(1, "nope")', (f) => f.failNext(1, 'nope' as never), 'fault'],
    ['failWhen(not a function)', (f) => f.failWhen('x' as never), 'predicate'],
    ['failWhen times 0', (f) => f.failWhen(() => true, 'tempfail', { times: 0 }), 'times'],
    ['rejectRecipients("")', (f) => f.rejectRecipients(''), 'match'],
    ['setLatency(-1)', (f) => f.setLatency(-1), 'latency'],
    ['setLatency(Infinity)', (f) => f.setLatency(Infinity), 'latency'],
  ])('rejects %s', (_name, call, option) => {
    expect(configErrorOf(() => call(new FaultInjector())).option).toBe(option);
  });

  it('accepts Infinity as a count', () => {
    const f = new FaultInjector().failNext(Infinity);
    for (let i = 0; i < 100; i++) expect(f.takeFault(prepare())).toBeDefined();
  });
});

import { describe, expect, it } from 'vitest';
import {
  extractEnhancedStatus,
  extractResponseCode,
  MAX_RETRY_AFTER_MS,
  MAX_TEXT_LENGTH,
  normalizeResponseText,
  parseEnhancedStatus,
  parseRetryAfter,
} from '../../src/classify/hints.js';

const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;

/**
 * Runs `fn` and checks it did not backtrack: the inputs are about 1 MB, which a linear scan reads
 * in a few milliseconds and a quadratic one in minutes. Measured in CPU time of this process (not
 * wall time, which other work on a shared 2-core machine stretches) with a wide 1 s margin.
 */
function fast<T>(fn: () => T): T {
  const started = process.cpuUsage();
  const result = fn();
  const used = process.cpuUsage(started);
  expect((used.user + used.system) / 1000).toBeLessThan(1000);
  return result;
}

describe('parseRetryAfter', () => {
  it.each([
    ['try again in 5 minutes', 5 * MIN],
    ['Please try again in 4 hours', 4 * HOUR],
    ['retry in 30 seconds', 30 * S],
    ['please wait 2 hours', 2 * HOUR],
    ['Greylisted for 300 seconds', 300 * S],
    ['greylisted, please retry after 60s', 60 * S],
    ['try again after 10m', 10 * MIN],
    ['try again later (in 15 min)', 15 * MIN],
    ['rate limited, wait 120 secs', 120 * S],
    ['deferred: retry in 1.5 hours', 1.5 * HOUR],
    ['try again in an hour', HOUR],
    ['please try again in one minute', MIN],
    ['retry in 250ms', 250],
    ['wait 2 hrs', 2 * HOUR],
    ['TRY AGAIN IN 3 MINUTES', 3 * MIN],
    ['451 4.7.1 Please try again in\r\n 5 minutes', 5 * MIN],
  ])('reads "%s"', (text, ms) => {
    expect(parseRetryAfter(text)).toBe(ms);
  });

  it('reads a Retry-After field as seconds', () => {
    expect(parseRetryAfter('Retry-After: 120')).toBe(120 * S);
    expect(parseRetryAfter('retry-after=7')).toBe(7 * S);
    expect(parseRetryAfter('Too Many Requests; Retry-After: 3600, see docs')).toBe(HOUR);
  });

  it('prefers the unit when a Retry-After field gives one', () => {
    expect(parseRetryAfter('Retry-After: 2 minutes')).toBe(2 * MIN);
  });

  it('caps absurd hints to 24 hours', () => {
    expect(parseRetryAfter('try again in 9999 hours')).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('wait 30 days')).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('Retry-After: 999999999999999')).toBe(MAX_RETRY_AFTER_MS);
  });

  it.each([
    'try again later',
    'try again in a few minutes',
    'try again in 0 seconds',
    'try again in -5 minutes',
    'retry in NaN seconds',
    'retry in 1e9 seconds',
    'try again in 5 fortnights',
    'Retry-After: Wed, 21 Oct 2015 07:28:00 GMT',
    'Retry-After: 0',
    '451 4.7.500 Server busy. Please try again later from [203.0.113.5]. (S77714)',
    '421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred - 4.16.55.1',
    'try again in 12345678901234567890 seconds',
    'sent 5 minutes ago',
    '',
  ])('ignores garbage and non-hints: "%s"', (text) => {
    expect(parseRetryAfter(text)).toBeUndefined();
  });

  it('skips an invalid hint and takes the next valid one', () => {
    expect(parseRetryAfter('try again in 0 seconds, or better retry in 10 seconds')).toBe(10 * S);
  });

  it('returns undefined for non-strings', () => {
    expect(parseRetryAfter(undefined as never)).toBeUndefined();
    expect(parseRetryAfter(42 as never)).toBeUndefined();
    expect(parseRetryAfter({} as never)).toBeUndefined();
  });

  it('is fast and safe on huge hostile texts', () => {
    expect(fast(() => parseRetryAfter('try again in '.repeat(100_000)))).toBeUndefined();
    expect(fast(() => parseRetryAfter(`retry-after: ${'9'.repeat(1 << 20)}`))).toBeUndefined();
    expect(fast(() => parseRetryAfter(`wait ${' '.repeat(1 << 20)}5 minutes`))).toBeUndefined();
    expect(fast(() => parseRetryAfter('a'.repeat(1 << 20)))).toBeUndefined();
    expect(fast(() => parseRetryAfter(`try again in 5 minutes ${'x'.repeat(1 << 20)}`))).toBe(5 * MIN);
  });

  it('only reads the first MAX_TEXT_LENGTH characters', () => {
    expect(parseRetryAfter(`${' '.repeat(MAX_TEXT_LENGTH)}try again in 5 minutes`)).toBeUndefined();
  });

  it('gives the same answer on repeated calls (no leaked regex state)', () => {
    for (let i = 0; i < 3; i++) {
      expect(parseRetryAfter('retry in 0 seconds; retry in 9 seconds')).toBe(9 * S);
      expect(parseRetryAfter('try again in 5 minutes')).toBe(5 * MIN);
    }
  });
});

describe('extractEnhancedStatus', () => {
  it.each([
    ['550-5.1.1 The email account that you tried to reach does not exist.', '5.1.1'],
    ['550 5.1.1 <a@b.com>: user unknown', '5.1.1'],
    ['451 4.7.500 Server busy.', '4.7.500'],
    ['550 5.1.10 RESOLVER.ADR.RecipientNotFound', '5.1.10'],
    ['553 sorry, that domain isn\'t in my list of allowed rcpthosts (#5.7.1)', '5.7.1'],
    ['smtp; 550 5.1.1 <a@b.com>: Recipient address rejected', '5.1.1'],
    ['smtp;550 #5.1.0 Address rejected.', '5.1.0'],
    ['X-Postfix; host mx[192.0.2.1] said: 552 5.2.2 quota', '5.2.2'],
    ['Status: 4.4.7', '4.4.7'],
    ['5.7.1 Relay denied', '5.7.1'],
    ['554 554 5.7.1 Service unavailable', '5.7.1'],
    ['250 2.0.0 Ok: queued', '2.0.0'],
    ['421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred - 4.16.55.1', '4.7.0'],
  ])('finds the status in "%s"', (text, status) => {
    expect(extractEnhancedStatus(text)).toBe(status);
  });

  it.each([
    'connection from 192.168.1.1 refused',
    'host 5.1.1.4 unreachable',
    'Postfix 3.5.6 ready',
    'ESMTP Exim 4.94.2',
    'Sendmail 8.15.2',
    'v5.1.1 released',
    'version 5.8.1',
    '550 4.16.55.1 odd',
    'code 6.1.1',
    '5.1.1234',
    '5.1',
    '',
  ])('ignores lookalikes in "%s"', (text) => {
    expect(extractEnhancedStatus(text)).toBeUndefined();
  });

  it('prefers the status after the reply code to an earlier loose one', () => {
    expect(extractEnhancedStatus('Relay 2.3.3 said: 550 5.1.1 unknown')).toBe('5.1.1');
  });

  it('is fast on huge hostile texts and handles non-strings', () => {
    expect(fast(() => extractEnhancedStatus(`${'5.'.repeat(500_000)}1`))).toBeUndefined();
    expect(fast(() => extractEnhancedStatus('550-'.repeat(250_000)))).toBeUndefined();
    expect(fast(() => extractEnhancedStatus(`${'9.9.9.9 '.repeat(150_000)}`))).toBeUndefined();
    expect(extractEnhancedStatus(null as never)).toBeUndefined();
  });
});

describe('parseEnhancedStatus', () => {
  it('reads a given status, with a trailing comment', () => {
    expect(parseEnhancedStatus('5.1.1')).toBe('5.1.1');
    expect(parseEnhancedStatus(' 5.1.10 (host/domain does not accept mail)')).toBe('5.1.10');
    expect(parseEnhancedStatus('4.7.500')).toBe('4.7.500');
  });

  it('rejects anything else', () => {
    for (const v of ['5.1', '6.1.1', '5.1.1.1', 'x5.1.1', '', 511, null, undefined, {}]) {
      expect(parseEnhancedStatus(v), String(v)).toBeUndefined();
    }
  });
});

describe('extractResponseCode', () => {
  it.each([
    ['550 5.1.1 user unknown', 550],
    ['550-5.1.1 The email account', 550],
    ['smtp; 550 5.1.1 x', 550],
    ['SMTP;554 delivery error', 554],
    ['X-Postfix; host mx.example.com[192.0.2.1] said: 452 4.2.2 full (in reply to RCPT TO command)', 452],
    ['421', 421],
    ['250 ok', 250],
  ])('reads "%s"', (text, code) => {
    expect(extractResponseCode(text)).toBe(code);
  });

  it.each(['5.1.1 user unknown', 'user unknown 550', '2024-01-01 550', '5500 x', '650 x', '55 x', '', 'x-unix; procmail failed'])('finds none in "%s"', (text) => {
    expect(extractResponseCode(text)).toBeUndefined();
  });
});

describe('normalizeResponseText', () => {
  it('joins a multi-line reply and drops the repeated prefixes', () => {
    expect(normalizeResponseText('550-5.1.1 The email account that you tried to reach does\r\n550-5.1.1 not exist.\r\n550 5.1.1  Learn more')).toBe(
      '550 5.1.1 The email account that you tried to reach does not exist. Learn more',
    );
  });

  it('turns control characters into single spaces and trims', () => {
    expect(normalizeResponseText('\u0000 550\t\tuser\u0007\u001b unknown \u2028')).toBe('550 user unknown');
  });

  it('caps the length', () => {
    expect(normalizeResponseText('x'.repeat(1 << 20)).length).toBe(MAX_TEXT_LENGTH);
  });

  it('is fast on hostile input and total on non-strings', () => {
    expect(fast(() => normalizeResponseText('\r\n550-5.1.1 '.repeat(100_000))).length).toBeLessThanOrEqual(MAX_TEXT_LENGTH);
    expect(normalizeResponseText(undefined as never)).toBe('');
  });
});

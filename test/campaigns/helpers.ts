import { afterEach } from 'vitest';
import { createMailer } from '../../src/mailer/index.js';
import type { Mailer, MailerOptions } from '../../src/mailer/index.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import type { SmtpSink, SmtpSinkOptions } from '../../src/testing/smtp-sink.js';
import smtpTransport from '../../src/transports/smtp.js';

/** What marketing mail needs to be accepted (unsubscribe headers and a postal address). */
export const COMPLIANCE = {
  unsubscribe: { url: 'https://u.acme.test/u', secrets: ['campaign-tests-secret-0123456789'] },
  postalAddress: 'Acme Inc., 1 Main Street, Springfield',
} as const;

/** The shared fields of a newsletter. */
export const NEWS = { from: 'Acme News <news@acme.test>', subject: 'Weekly news', text: 'Hello from Acme.', category: 'marketing' as const };

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Registers a clean-up run after the test. */
export function onCleanup(fn: () => Promise<unknown>): void {
  cleanup.push(fn);
}

/** A real SMTP sink on 127.0.0.1:0 and a mailer sending to it. */
export async function setup(
  sinkOptions: SmtpSinkOptions = {},
  options: Partial<MailerOptions> = {},
  maxConnections = 4,
): Promise<{ sink: SmtpSink; mailer: Mailer }> {
  const sink = await startSmtpSink({ disableStartTls: true, ...sinkOptions });
  const mailer = createMailer({
    transport: smtpTransport({ host: sink.host, port: sink.port, maxConnections }),
    retry: { scheduleMs: [200], jitter: 0 },
    ...COMPLIANCE,
    ...options,
  });
  onCleanup(async () => {
    await mailer.close({ timeoutMs: 2000 });
    await sink.close();
  });
  return { sink, mailer };
}

/** Resolves once `predicate` holds (checked every 10 ms), or rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A transport under another name, so that two transports of one kind can sit side by side
 * in a {@link failover} or {@link roundRobin} (which need distinct member names) and be told
 * apart in events and errors. `smtpTransport({ transportName })`, `sesTransport({ name })`,
 * `sendgridTransport({ name })` and `memoryTransport({ name })` use it; it also renames any
 * third-party transport.
 *
 * @module
 */

import { configError, MailError } from '../errors.js';
import type { MailErrorOptions } from '../errors.js';
import type { SendResult, Transport } from '../types.js';

const FIELDS = ['retryable', 'responseCode', 'enhancedStatus', 'response', 'retryAfterMs', 'category', 'recipient', 'option', 'scope', 'cause'] as const;

/** The same error with `transport` set to `name` (errors are immutable, so a copy). */
function renamed(error: unknown, name: string): unknown {
  if (!(error instanceof MailError) || error.transport === name) return error;
  const fields: { -readonly [K in keyof MailErrorOptions]?: MailErrorOptions[K] } = { code: error.code, transport: name };
  for (const key of FIELDS) {
    const value = key === 'cause' ? error.cause : error[key];
    if (value !== undefined) (fields as Record<string, unknown>)[key] = value;
  }
  const copy = new MailError(error.message, fields as MailErrorOptions);
  if (error.stack !== undefined) copy.stack = error.stack;
  return copy;
}

/** Checks a transport name given as an option. @internal */
export function checkTransportName(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 200) throw configError(option, 'a non-empty string of at most 200 characters', value);
  return value;
}

/**
 * Returns `transport` under the name `name`: its `name`, the `transport` of its errors and of
 * its results. Everything else (capabilities, verify, close) is the transport's own.
 *
 * @example
 * ```ts
 * const transport = failover([
 *   namedTransport(smtpTransport({ host: 'smtp-a.example.com' }), 'relay-a'),
 *   namedTransport(smtpTransport({ host: 'smtp-b.example.com' }), 'relay-b'),
 * ]);
 * ```
 */
export function namedTransport(transport: Transport, name: string): Transport {
  checkTransportName('name', name);
  if (transport.name === name) return transport;
  const rename = (err: unknown): never => {
    throw renamed(err, name);
  };
  // Other members of the transport (an SES client accessor, a memory outbox) stay reachable.
  const named: Transport = {
    ...transport,
    name,
    capabilities: transport.capabilities,
    send: (prepared, context) =>
      transport.send(prepared, context).then((result: SendResult) => (result?.transport === undefined ? result : { ...result, transport: name }), rename),
  };
  if (typeof transport.verify === 'function') (named as { verify?: () => Promise<void> }).verify = () => transport.verify!().catch(rename);
  if (typeof transport.close === 'function') (named as { close?: () => Promise<void> }).close = () => transport.close!();
  return named;
}

/**
 * MIME composition with nodemailer's MailComposer. The same mapping feeds nodemailer's
 * `sendMail` (so the SMTP transport composes while it streams) and raw composition for
 * transports that take MIME bytes.
 *
 * @module
 */

import MailComposer from 'nodemailer/lib/mail-composer';
import type { MailComposerOptions } from 'nodemailer/lib/mail-composer';
import { MailError, MailErrorCode } from '../errors.js';
import type { Address, NormalizedMessage } from '../types.js';

/** An SMTP envelope: MAIL FROM and RCPT TO addresses. */
export interface Envelope {
  readonly from: string;
  readonly to: readonly string[];
}

function formatAddresses(list: readonly Address[]): { name: string; address: string }[] {
  return list.map((a) => ({ name: a.name ?? '', address: a.address }));
}

/**
 * Maps a normalized message to nodemailer's mail options. File and URL access are always
 * disabled: content is given inline, so nothing in a message can make the process read a
 * local file or fetch a URL.
 */
export function toMailOptions(message: NormalizedMessage, envelope?: Envelope): MailComposerOptions {
  // No prototype: a name like `constructor` or `__proto__` must be an ordinary key here.
  const headers = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of message.headers) {
    const prev = headers[name];
    if (prev === undefined) headers[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else headers[name] = [prev, value];
  }
  const options: MailComposerOptions = {
    from: { name: message.from.name ?? '', address: message.from.address },
    subject: message.subject,
    messageId: message.messageId,
    date: new Date(message.date),
    headers,
    disableFileAccess: true,
    disableUrlAccess: true,
    xMailer: false,
  };
  if (message.to.length > 0) options.to = formatAddresses(message.to);
  if (message.cc.length > 0) options.cc = formatAddresses(message.cc);
  // Bcc is never written to headers: it only lives in the envelope.
  if (message.replyTo.length > 0) options.replyTo = formatAddresses(message.replyTo);
  if (message.text !== undefined) options.text = message.text;
  if (message.html !== undefined) options.html = message.html;
  if (message.attachments.length > 0) {
    options.attachments = message.attachments.map((a) => {
      const content = typeof a.content === 'string' ? a.content : Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength);
      return {
        content,
        ...(a.filename !== undefined ? { filename: a.filename } : {}),
        ...(typeof a.content === 'string' && a.encoding !== undefined ? { encoding: a.encoding } : {}),
        ...(a.contentType !== undefined ? { contentType: a.contentType } : {}),
        ...(a.cid !== undefined ? { cid: a.cid } : {}),
        ...(a.disposition !== undefined ? { contentDisposition: a.disposition } : {}),
      };
    });
  }
  options.envelope = envelope
    ? { from: envelope.from, to: [...envelope.to] }
    : { from: message.returnPath, to: allRecipients(message) };
  return options;
}

/** Every envelope recipient of a message (to, cc and bcc), in order, without duplicates. */
export function allRecipients(message: NormalizedMessage): string[] {
  const seen = new Set<string>();
  for (const list of [message.to, message.cc, message.bcc]) {
    for (const a of list) seen.add(a.address);
  }
  return [...seen];
}

/**
 * Composes the complete MIME message as bytes.
 *
 * @example
 * ```ts
 * import { composeMessage, normalizeMessage } from 'mailpush';
 *
 * const message = normalizeMessage({ from: 'shop@example.com', to: 'ann@example.org', subject: 'Hi', text: 'Hello' }, { now: Date.now() });
 * const mime = await composeMessage(message); // Buffer: 'From: shop@example.com\r\nTo: ann@example.org\r\n...'
 * ```
 */
export async function composeMessage(message: NormalizedMessage, envelope?: Envelope): Promise<Buffer> {
  try {
    return await new MailComposer(toMailOptions(message, envelope)).compile().build();
  } catch (err) {
    throw new MailError(`Could not compose message ${message.messageId}: ${(err as Error).message}`, {
      code: MailErrorCode.VALIDATION,
      cause: err,
    });
  }
}

/**
 * MIME composition with nodemailer's MailComposer. The same mapping feeds nodemailer's
 * `sendMail` (so the SMTP transport composes while it streams) and raw composition for
 * transports that take MIME bytes.
 *
 * @module
 */

import MailComposer from 'nodemailer/lib/mail-composer';
import type { MailComposerOptions } from 'nodemailer/lib/mail-composer';
import type MimeNode from 'nodemailer/lib/mime-node';
import { Encoder as Base64Encoder } from 'nodemailer/lib/base64';
import { Encoder as QpEncoder } from 'nodemailer/lib/qp';
import type { Transform } from 'node:stream';
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
  return mailOptions(message, envelope, undefined);
}

/** {@link toMailOptions}, with the job id as the last header field when given. */
function mailOptions(message: NormalizedMessage, envelope: Envelope | undefined, jobId: string | undefined): MailComposerOptions {
  // No prototype: a name like `constructor` or `__proto__` must be an ordinary key here.
  const headers = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of message.headers) {
    const prev = headers[name];
    if (prev === undefined) headers[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else headers[name] = [prev, value];
  }
  // Normalizing rejects X-Mailpush-* header fields, so this name is never taken.
  if (jobId !== undefined) headers[JOB_ID_HEADER] = jobId;
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
  return composeWith(message, envelope, undefined);
}

/** Header field that carries the job id in every message the mailer sends (feedback correlates with it). */
export const JOB_ID_HEADER = 'X-Mailpush-Job-Id';

/**
 * Composes the MIME message of a job: the message with `X-Mailpush-Job-Id: <jobId>` as its
 * last header field, without copying the message to add it. The same bytes as
 * `composeMessage` of a copy whose headers end with that field.
 *
 * @internal
 */
export function composeJobMessage(message: NormalizedMessage, jobId: string): Promise<Buffer> {
  return composeWith(message, undefined, jobId);
}

async function composeWith(message: NormalizedMessage, envelope: Envelope | undefined, jobId: string | undefined): Promise<Buffer> {
  try {
    const root = new MailComposer(mailOptions(message, envelope, jobId)).compile();
    // Inline content (all a normalized message has) is serialized synchronously; anything
    // else goes through nodemailer's streaming build.
    return serialize(root) ?? (await root.build());
  } catch (err) {
    throw new MailError(`Could not compose message ${message.messageId}: ${(err as Error).message}`, {
      code: MailErrorCode.VALIDATION,
      cause: err,
    });
  }
}

/** The fields of a MIME node that nodemailer's types leave out. */
interface NodeInternals {
  readonly _raw?: unknown;
  readonly _transforms?: readonly unknown[];
  readonly _processFuncs?: readonly unknown[];
}

/**
 * The bytes of a MIME tree whose content is all inline (strings and buffers), written the way
 * `MimeNode.stream()` writes them (same header build, same encoders, same boundaries, the
 * final line break of its last-newline step) but without streams: nodemailer's stream takes
 * a `setImmediate`, a `PassThrough` and a `pipeline` per node and hands the socket one small
 * chunk per header block, boundary and encoded part. Returns undefined for a tree with
 * anything else (raw nodes, streams, transforms): the caller then uses `build()`.
 * test/message/compose.test.ts compares the two byte for byte.
 */
function serialize(root: MimeNode): Buffer | undefined {
  const top = root as MimeNode & NodeInternals;
  if ((top._transforms?.length ?? 0) > 0 || (top._processFuncs?.length ?? 0) > 0 || Boolean(top.newline)) return undefined;
  const parts: string[] = [];
  if (!writeNode(root, parts, { left: SYNC_MAX_CONTENT_BYTES })) return undefined;
  let out = parts.join('');
  // nodemailer's LastNewline: the message ends with a line break.
  const last = out.charCodeAt(out.length - 1);
  if (last === 0x0d) out += '\n';
  else if (last !== 0x0a) out += '\r\n';
  // Every part is a latin1 string of the wire bytes (ASCII headers, encoded or raw content).
  return Buffer.from(out, 'latin1');
}

/**
 * Most content bytes written without streams. Above it the synchronous copy costs more than
 * nodemailer's build (1 MB: 56 vs 32 ms of one blocked turn of the event loop), so larger
 * messages take `build()`; below it the serializer is 2-3x cheaper.
 */
const SYNC_MAX_CONTENT_BYTES = 64 * 1024;

function writeNode(node: MimeNode, parts: string[], budget: { left: number }): boolean {
  if ((node as MimeNode & NodeInternals)._raw) return false;
  // MimeNode.stream() reads the transfer encoding before the headers are built.
  const transferEncoding = node.getTransferEncoding();
  const headers = node.buildHeaders();
  // nodemailer writes the header block as UTF-8; the parts here are latin1 strings of bytes,
  // the same only for ASCII (encoded words make it ASCII but for rare cases like SMTPUTF8).
  if (NOT_ASCII.test(headers)) return false;
  parts.push(headers, '\r\n\r\n');
  const content = node.content;
  if (content) {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.isBuffer(content) ? content : undefined;
    if (bytes === undefined) return false;
    budget.left -= bytes.length;
    if (budget.left < 0) return false;
    if (transferEncoding === 'base64') encodeInto(new Base64Encoder(), bytes, parts);
    // As in MimeNode.stream(): outside text/*, a lone CR or LF is data.
    else if (transferEncoding === 'quoted-printable') encodeInto(new QpEncoder({ binary: !/^text\//i.test(node.contentType ?? '') }), bytes, parts);
    else parts.push(bytes.toString('latin1'));
  }
  if (node.multipart) {
    const children = node.childNodes;
    for (let i = 0; i < children.length; i++) {
      parts.push(`${i > 0 ? '\r\n' : ''}--${String(node.boundary)}\r\n`);
      if (!writeNode(children[i] as MimeNode, parts, budget)) return false;
    }
    parts.push(`\r\n--${String(node.boundary)}--\r\n`);
  }
  return true;
}

const NOT_ASCII = /[^\u0000-\u007f]/;

const noop = (): void => {};

/**
 * Runs one of nodemailer's encoders over the whole content synchronously (its `_transform`
 * and `_flush` call back at once): the exact output of the streaming encoder (it does not
 * depend on how the input is split), without piping.
 */
function encodeInto(encoder: Transform, bytes: Buffer, parts: string[]): void {
  encoder.push = (chunk: unknown): boolean => {
    if (chunk !== null && chunk !== undefined) parts.push(typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('latin1'));
    return true;
  };
  // 'buffer': what a piped Buffer chunk arrives as.
  encoder._transform(bytes, 'buffer' as BufferEncoding, noop);
  encoder._flush(noop);
}

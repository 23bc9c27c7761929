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
import { StringDecoder } from 'node:string_decoder';
import { MailError, MailErrorCode } from '../errors.js';
import { slice } from '../queue/slice.js';
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
    // Inline content (all a normalized message has) is serialized here; anything else goes
    // through nodemailer's streaming build.
    const preparing = prepareLargeContent(root);
    const converted = preparing === undefined ? undefined : await preparing;
    const plan = planTree(root, converted);
    if (plan === undefined) return await root.build();
    return plan.contentBytes <= SYNC_MAX_CONTENT_BYTES ? writeAtOnce(plan.items) : await writeSliced(plan.items);
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

/** The content of a MIME node: its bytes and how `MimeNode.stream()` encodes them. */
interface ContentItem {
  readonly bytes: Buffer;
  readonly encoding: 'base64' | 'quoted-printable' | 'none';
  /** Quoted-printable outside text/*: a lone CR or LF is data. */
  readonly binary: boolean;
}

/** What a message is written from, in order: ASCII text (header blocks, boundaries) and contents. */
type Item = string | ContentItem;

interface Plan {
  readonly items: Item[];
  /** Bytes of content before encoding. */
  readonly contentBytes: number;
}

/**
 * The pieces of a MIME tree whose content is all inline (strings and buffers), in the order
 * `MimeNode.stream()` writes them (same header build, same boundaries), or undefined for a
 * tree with anything else (raw nodes, streams, transforms): the caller then uses `build()`.
 * {@link writeAtOnce} and {@link writeSliced} write them without streams: nodemailer's stream
 * takes a `setImmediate`, a `PassThrough` and a `pipeline` per node, and its encoders take a
 * whole attachment in one chunk (a 10 MB attachment held the event loop ~150 ms in one turn).
 * test/message/compose.test.ts compares the output with `build()` byte for byte.
 */
function planTree(root: MimeNode, converted: ReadonlyMap<MimeNode, Buffer> | undefined): Plan | undefined {
  const top = root as MimeNode & NodeInternals;
  if ((top._transforms?.length ?? 0) > 0 || (top._processFuncs?.length ?? 0) > 0 || Boolean(top.newline)) return undefined;
  const plan = { items: [] as Item[], contentBytes: 0 };
  return planNode(root, plan, converted) ? plan : undefined;
}

function planNode(node: MimeNode, plan: { items: Item[]; contentBytes: number }, converted: ReadonlyMap<MimeNode, Buffer> | undefined): boolean {
  if ((node as MimeNode & NodeInternals)._raw) return false;
  // MimeNode.stream() reads the transfer encoding before the headers are built.
  const transferEncoding = node.getTransferEncoding();
  const block = `${node.buildHeaders()}\r\n\r\n`;
  const items = plan.items;
  // nodemailer writes the header block as UTF-8 (a string written to its stream), and the
  // items here are latin1 strings of bytes: a block that is not ASCII goes in as its UTF-8
  // bytes. Encoded words make most blocks ASCII; fields nodemailer does not encode (In-Reply-To,
  // References, OTP-Token) keep their text as given.
  items.push(NOT_ASCII.test(block) ? Buffer.from(block, 'utf8').toString('latin1') : block);
  const content = node.content;
  if (content) {
    const bytes = typeof content === 'string' ? (converted?.get(node) ?? Buffer.from(content, 'utf8')) : Buffer.isBuffer(content) ? content : undefined;
    if (bytes === undefined) return false;
    plan.contentBytes += bytes.length;
    items.push({
      bytes,
      encoding: transferEncoding === 'base64' || transferEncoding === 'quoted-printable' ? transferEncoding : 'none',
      // As in MimeNode.stream(): outside text/*, a lone CR or LF is data.
      binary: transferEncoding === 'quoted-printable' && !/^text\//i.test(node.contentType ?? ''),
    });
  }
  if (node.multipart) {
    const children = node.childNodes;
    for (let i = 0; i < children.length; i++) {
      items.push(`${i > 0 ? '\r\n' : ''}--${String(node.boundary)}\r\n`);
      if (!planNode(children[i] as MimeNode, plan, converted)) return false;
    }
    items.push(`\r\n--${String(node.boundary)}--\r\n`);
  }
  return true;
}

/**
 * Most content bytes written in one synchronous step, with nodemailer's own encoders; below it
 * that is 2-3x cheaper than `build()`. Larger messages are written by {@link writeSliced},
 * which yields the event loop between chunks.
 */
const SYNC_MAX_CONTENT_BYTES = 64 * 1024;

/** A small message in one step: latin1 strings of the wire bytes, joined once. */
function writeAtOnce(items: readonly Item[]): Buffer {
  const parts: string[] = [];
  for (const item of items) {
    if (typeof item === 'string') parts.push(item);
    else if (item.encoding === 'base64') encodeInto(new Base64Encoder(), item.bytes, parts);
    else if (item.encoding === 'quoted-printable') encodeInto(new QpEncoder({ binary: item.binary }), item.bytes, parts);
    else parts.push(item.bytes.toString('latin1'));
  }
  let out = parts.join('');
  // nodemailer's LastNewline: the message ends with a line break.
  const last = out.charCodeAt(out.length - 1);
  if (last === 0x0d) out += '\n';
  else if (last !== 0x0a) out += '\r\n';
  return Buffer.from(out, 'latin1');
}

const NOT_ASCII = /[^\u0000-\u007f]/;

const noop = (): void => {};

/**
 * Runs one of nodemailer's encoders over the whole content synchronously (its `_transform`
 * and `_flush` call back at once): the exact output of the streaming encoder, which gets the
 * content in one chunk too, without piping.
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

/**
 * A large message, chunk by chunk, giving the event loop a turn whenever the current slice of
 * work is used up (queue/slice.ts), into one buffer allocated at its final size (no copy of
 * the whole at the end): base64 with Buffer's native encoder, 57 input bytes to a
 * 76-character line; quoted-printable with nodemailer's encoder, in the 64 KiB slices it cuts
 * a whole content into itself. The same bytes as `build()`, which runs each encoder over a
 * whole content in one turn.
 */
async function writeSliced(items: readonly Item[]): Promise<Buffer> {
  // Quoted-printable output has no size known in advance: encode it first.
  const qp = new Map<ContentItem, string[]>();
  for (const item of items) {
    if (typeof item !== 'string' && item.encoding === 'quoted-printable') qp.set(item, await qpSliced(item.bytes, item.binary));
  }
  let size = 0;
  for (const item of items) {
    if (typeof item === 'string') size += item.length;
    else if (item.encoding === 'base64') size += base64Size(item.bytes.length);
    else if (item.encoding === 'quoted-printable') for (const s of qp.get(item) as string[]) size += s.length;
    else size += item.bytes.length;
  }
  // Room for the final line break.
  const out = Buffer.allocUnsafe(size + 2);
  let at = 0;
  for (const item of items) {
    if (typeof item === 'string') at += out.write(item, at, 'latin1');
    else if (item.encoding === 'base64') at = await base64Sliced(item.bytes, out, at);
    else if (item.encoding === 'quoted-printable') {
      for (const s of qp.get(item) as string[]) {
        const y = slice();
        if (y !== undefined) await y;
        at += out.write(s, at, 'latin1');
      }
    } else {
      for (let from = 0; from < item.bytes.length; from += COPY_CHUNK_BYTES) {
        const y = slice();
        if (y !== undefined) await y;
        at += item.bytes.copy(out, at, from, Math.min(from + COPY_CHUNK_BYTES, item.bytes.length));
      }
    }
  }
  if (at !== size) throw new Error(`Composed ${at} bytes where ${size} were counted`);
  // nodemailer's LastNewline: the message ends with a line break.
  const last = at > 0 ? out[at - 1] : -1;
  if (last === 0x0d) out[at++] = 0x0a;
  else if (last !== 0x0a) {
    out[at++] = 0x0d;
    out[at++] = 0x0a;
  }
  return out.subarray(0, at);
}

/** Bytes copied between two checks of the slice. */
const COPY_CHUNK_BYTES = 1024 * 1024;

/**
 * Input bytes per chunk of base64: whole 76-character lines (57 bytes each). The encoded text
 * of a chunk (78 KB) stays under V8's 128 KiB limit for young objects: larger strings go
 * to the large-object space, where only full collections free them.
 */
const BASE64_CHUNK_BYTES = 57 * 1024;

/** Length of nodemailer's base64 of `n` bytes: lines of 76 characters joined by CRLF. */
function base64Size(n: number): number {
  const chars = Math.ceil(n / 3) * 4;
  return chars + 2 * Math.max(0, Math.ceil(chars / 76) - 1);
}

/**
 * nodemailer's base64 output (`wrap(encode(bytes), 76)`: lines of 76 characters joined by
 * CRLF, none after the last one) written into `out` at `at`, one chunk of input at a time.
 * Returns the offset after it.
 */
async function base64Sliced(bytes: Buffer, out: Buffer, at: number): Promise<number> {
  for (let from = 0; from < bytes.length; from += BASE64_CHUNK_BYTES) {
    const y = slice();
    if (y !== undefined) await y;
    const to = Math.min(from + BASE64_CHUNK_BYTES, bytes.length);
    const chars = Math.ceil((to - from) / 3) * 4;
    const lines = Math.ceil(chars / 76);
    // Every line ends with CRLF but the last line of the content.
    const breaks = to === bytes.length ? lines - 1 : lines;
    const end = at + chars + 2 * breaks;
    // The encoded text goes at the end of the chunk's place, then each line moves to its own
    // (lines only move towards the start, and never over text that has not moved yet).
    const text = end - chars;
    out.write(bytes.toString('base64', from, to), text, 'latin1');
    for (let line = 0; line < lines; line++) {
      const src = text + line * 76;
      const dst = at + line * 78;
      if (src !== dst) out.copyWithin(dst, src, Math.min(src + 76, end));
      if (line < breaks) {
        out[dst + 76] = 0x0d;
        out[dst + 77] = 0x0a;
      }
    }
    at = end;
  }
  return at;
}

/** Input bytes of each quoted-printable slice: nodemailer's `ENCODE_SLICE_SIZE` in lib/qp. */
const QP_SLICE_BYTES = 64 * 1024;

/** The parts of nodemailer's quoted-printable encoder that take its input slice by slice. */
interface QpInternals {
  _encodeSlice?: (buf: Buffer, next: number | undefined) => void;
  _lastByte: number | undefined;
  _remainingBytes: Buffer | false;
}

/**
 * nodemailer's quoted-printable encoder given the whole content in one chunk (as
 * `MimeNode.stream()` gives it), with what its `_transform` does spelled out so that the
 * event loop gets a turn between its 64 KiB slices: trailing whitespace (and, for binary
 * content, a trailing CR) is held back for `_flush`, the rest is encoded slice by slice, each
 * slice told the byte that follows it. Returns the output as latin1 strings.
 */
async function qpSliced(bytes: Buffer, binary: boolean): Promise<string[]> {
  const parts: string[] = [];
  const encoder = new QpEncoder({ binary });
  encoder.push = (chunk: unknown): boolean => {
    if (chunk !== null && chunk !== undefined) parts.push(typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('latin1'));
    return true;
  };
  const e = encoder as unknown as QpInternals;
  if (typeof e._encodeSlice !== 'function') {
    // Another nodemailer version: its own encoder in one step (correct, not sliced).
    encoder._transform(bytes, 'buffer' as BufferEncoding, noop);
    encoder._flush(noop);
    return parts;
  }
  if (bytes.length > 0) {
    let end = bytes.length;
    while (end > 0 && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0x09 || (binary && bytes[end - 1] === 0x0d))) end--;
    let body = bytes;
    if (bytes.length - end <= QP_SLICE_BYTES) {
      e._remainingBytes = end < bytes.length ? Buffer.from(bytes.subarray(end)) : false;
      body = bytes.subarray(0, end);
    }
    for (let from = 0; from < body.length; from += QP_SLICE_BYTES) {
      const y = slice();
      if (y !== undefined) await y;
      const to = Math.min(from + QP_SLICE_BYTES, body.length);
      e._encodeSlice(body.subarray(from, to), to < body.length ? body[to] : undefined);
      e._lastByte = body[to - 1];
    }
  }
  encoder._flush(noop);
  return parts;
}

/** The fields of a MIME node that decide whether `getTransferEncoding()` reads its text. */
interface TextNodeInternals {
  readonly _isPlainText?: boolean;
  readonly _hasLongLines?: boolean;
  readonly textEncoding?: string;
}

/** Characters of text content read between two checks of the slice. */
const SCAN_CHUNK_CHARS = 256 * 1024;

/** Whether `getTransferEncoding()` would choose between quoted-printable and base64 by reading all of the node's content. */
function readsContent(node: MimeNode): boolean {
  const content = node.content;
  const n = node as MimeNode & TextNodeInternals;
  return (
    Boolean(content) &&
    (typeof content === 'string' || Buffer.isBuffer(content)) &&
    !n.textEncoding &&
    !(n._isPlainText && !n._hasLongLines) &&
    /^text\//i.test(String(node.getHeader('Content-Type') ?? '').trim()) &&
    !['base64', 'quoted-printable'].includes(String(node.getHeader('Content-Transfer-Encoding') ?? '').toLowerCase().trim())
  );
}

/**
 * The work nodemailer and the serializer would do over a whole large content in one go, done
 * in chunks with yields between them, for each node whose content is more than
 * {@link SCAN_CHUNK_CHARS} long: a string content becomes its UTF-8 bytes (returned by node),
 * and where `getTransferEncoding()` would read the whole text to choose quoted-printable or
 * base64 (twice: it runs again in `buildHeaders()`), the same choice is made here and set as
 * the node's Content-Transfer-Encoding, where `buildHeaders()` would set it (the field is
 * appended either way, and replaced in place). Undefined when no node has such content (no
 * await for small messages).
 */
function prepareLargeContent(root: MimeNode): Promise<Map<MimeNode, Buffer>> | undefined {
  const nodes: MimeNode[] = [];
  const visit = (node: MimeNode): void => {
    const content = node.content;
    if ((typeof content === 'string' && content.length > SCAN_CHUNK_CHARS) || (Buffer.isBuffer(content) && content.length > SCAN_CHUNK_CHARS && readsContent(node))) nodes.push(node);
    // `multipart` is only set by buildHeaders(): walk the children of every node.
    for (const child of node.childNodes) visit(child as MimeNode);
  };
  visit(root);
  if (nodes.length === 0) return undefined;
  return (async () => {
    const converted = new Map<MimeNode, Buffer>();
    for (const node of nodes) {
      const content = node.content as string | Buffer;
      const counter = readsContent(node) ? new TextCounter() : undefined;
      if (typeof content === 'string') converted.set(node, await utf8Sliced(content, counter));
      else if (counter !== undefined) {
        // A Buffer is read as its UTF-8 text (`toString()`); the decoder keeps characters split between chunks whole.
        const decoder = new StringDecoder('utf8');
        for (let from = 0; from < content.length; from += SCAN_CHUNK_CHARS) {
          const y = slice();
          if (y !== undefined) await y;
          counter.count(decoder.write(content.subarray(from, Math.min(from + SCAN_CHUNK_CHARS, content.length))));
        }
        counter.count(decoder.end());
      }
      if (counter !== undefined) node.setHeader('Content-Transfer-Encoding', counter.choice() === 'Q' ? 'quoted-printable' : 'base64');
    }
    return converted;
  })();
}

/**
 * `Buffer.from(text, 'utf8')` chunk by chunk (never between the two halves of a surrogate
 * pair, so the bytes are the same), counting the characters for `counter` on the way.
 */
async function utf8Sliced(text: string, counter: TextCounter | undefined): Promise<Buffer> {
  const ends: number[] = [];
  let size = 0;
  for (let from = 0; from < text.length; ) {
    const y = slice();
    if (y !== undefined) await y;
    let to = Math.min(from + SCAN_CHUNK_CHARS, text.length);
    const last = text.charCodeAt(to - 1);
    if (to < text.length && last >= 0xd800 && last <= 0xdbff) to--;
    const part = text.slice(from, to);
    counter?.count(part);
    size += Buffer.byteLength(part, 'utf8');
    ends.push(to);
    from = to;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  let from = 0;
  for (const to of ends) {
    const y = slice();
    if (y !== undefined) await y;
    at += out.write(text.slice(from, to), at, 'utf8');
    from = to;
  }
  if (at !== size) throw new Error(`Encoded ${at} bytes of text where ${size} were counted`);
  return out;
}

/**
 * nodemailer's `MimeNode._getTextEncoding()` over text given in parts: more Latin letters
 * than 8-bit and control characters gives 'Q' (quoted-printable), else 'B' (base64).
 */
class TextCounter {
  private nonLatin = 0;
  private latin = 0;

  count(text: string): void {
    let nonLatin = 0;
    let latin = 0;
    for (let i = 0, len = text.length; i < len; i++) {
      const code = text.charCodeAt(i);
      if (code <= 0x08 || code === 0x0b || code === 0x0c || (code >= 0x0e && code <= 0x1f) || code >= 0x80) nonLatin++;
      else if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) latin++;
    }
    this.nonLatin += nonLatin;
    this.latin += latin;
  }

  choice(): 'Q' | 'B' {
    return this.nonLatin < this.latin ? 'Q' : 'B';
  }
}

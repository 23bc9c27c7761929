/**
 * A small, forgiving MIME reader for feedback mails (bounces, complaints): headers, nested
 * multiparts, `message/rfc822` parts, base64 and quoted-printable bodies, charsets and RFC 2047
 * words. It never throws on malformed input (truncated parts, missing boundaries, bare LF or
 * CR line ends, unknown charsets) and bounds its work: the input is cut at a maximum length,
 * and the number of parts, the nesting depth and the header block size are capped.
 *
 * Internal to mailpush's feedback parsers; not part of the public API.
 *
 * @module
 */

import { isAscii } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { slice } from '../queue/slice.js';
import type { OriginalHeaders } from './types.js';

/** Default most characters of an input that are read (2 MiB). */
export const DEFAULT_MAX_SCAN_LENGTH = 2 * 1024 * 1024;
/**
 * Highest `maxScanLength` accepted (16 MiB). Parsing time and memory grow with it (a 100 MiB
 * setting let 50 MB inputs take seconds and over a gigabyte of heap), and a larger one is not
 * needed to find a report: an input over `maxScanLength` is skimmed (see `readInput` in this module).
 */
export const MAX_SCAN_LENGTH_LIMIT = 16 * 1024 * 1024;
/** Most characters (bytes) of an input searched for MIME part boundaries when it is skimmed (64 MiB). */
export const MAX_SKIM_INPUT = 64 * 1024 * 1024;
/** Most MIME parts read in one message, nested ones included. */
export const MAX_PARTS = 128;
/** Deepest nesting of multiparts and messages followed. */
export const MAX_DEPTH = 8;
/** Most characters of one header block. */
export const MAX_HEADER_BLOCK = 256 * 1024;
/** Most header fields kept from one header block. */
export const MAX_HEADER_FIELDS = 1000;
/** Most characters of one decoded body. */
export const MAX_DECODED_BODY = 1024 * 1024;
/** Most characters of HTML converted to text. */
const MAX_HTML = 512 * 1024;

/** One header field: lower-case name, unfolded raw value (not RFC 2047 decoded). */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

/** A parsed header block with case-insensitive lookup. */
export class HeaderList {
  /** Fields in order. */
  readonly fields: readonly HeaderField[];
  constructor(fields: readonly HeaderField[]) {
    this.fields = fields;
  }
  /** First value of a field (name in any case), trimmed. */
  get(name: string): string | undefined {
    const n = name.toLowerCase();
    const fields = this.fields;
    for (let i = 0; i < fields.length; i++) if (fields[i]!.name === n) return fields[i]!.value.trim();
    return undefined;
  }
  /** Every value of a field, trimmed. */
  getAll(name: string): string[] {
    const n = name.toLowerCase();
    const out: string[] = [];
    for (const f of this.fields) if (f.name === n) out.push(f.value.trim());
    return out;
  }
  /** Whether the field is present. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

/** A node of the MIME tree. */
export interface MimeNode {
  readonly headers: HeaderList;
  /** Lower-case media type (`text/plain` when missing or unreadable). */
  readonly type: string;
  /** Content-Type parameters, lower-case names. */
  readonly params: Readonly<Record<string, string>>;
  /** Raw body (transfer-encoded) of a leaf; the preamble of a multipart. */
  readonly body: string;
  /** Parts of a multipart, in order. */
  readonly children: readonly MimeNode[];
  /** The enclosed message of a `message/rfc822` (or `message/global`) part. */
  readonly message?: MimeNode;
  /** Nesting depth, 0 for the top message. */
  readonly depth: number;
}

// ---------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------

const UTF8_FATAL = new TextDecoder('utf-8', { fatal: true });

/** Bytes as text: UTF-8 when valid, else ISO-8859-1 (byte for byte, so charsets can be applied later). */
function bytesToText(bytes: Uint8Array): string {
  // ASCII (most mail) reads the same either way; the one-byte copy is much cheaper than a checked UTF-8 decode.
  if (isAscii(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  try {
    return UTF8_FATAL.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}

/**
 * The input as text with LF line ends, cut at `maxLength` characters (bytes for binary input,
 * cut on a UTF-8 character boundary).
 */
export function inputToText(raw: string | Uint8Array, maxLength: number): string {
  const text = decodeInput(raw, maxLength);
  return text.indexOf('\r') === -1 ? text : text.replace(/\r+\n?/g, '\n');
}

/** The input as text, cut at `maxLength` characters (bytes for binary input, on a UTF-8 character boundary); line ends as they are. */
function decodeInput(raw: string | Uint8Array, maxLength: number): string {
  let text: string;
  if (typeof raw === 'string') {
    text = raw.length > maxLength ? raw.slice(0, maxLength) : raw;
  } else {
    let end = Math.min(raw.byteLength, maxLength);
    // Step back over UTF-8 continuation bytes so the cut does not break a character.
    if (end < raw.byteLength) {
      let back = 0;
      while (back < 4 && end - back > 0 && ((raw[end - back] ?? 0) & 0xc0) === 0x80) back++;
      end -= back;
    }
    text = bytesToText(raw.subarray(0, end));
  }
  return text;
}

// ---------------------------------------------------------------------------------------
// Skimming inputs larger than the scan length
// ---------------------------------------------------------------------------------------

/**
 * The input as text for the parsers, at most `maxLength` characters. An input that fits is
 * read whole (as {@link inputToText}). A larger one is skimmed first: its MIME structure is
 * followed through the whole input (up to {@link MAX_SKIM_INPUT}, a plain substring search),
 * report parts (delivery-status, feedback-report, returned headers) are kept whole, and the
 * other parts are shortened to share what is left. So a report that comes after a huge first
 * text part, or after a huge attachment, is still read, in bounded time and memory.
 */
export function readInput(raw: string | Uint8Array, maxLength: number): string {
  const length = typeof raw === 'string' ? raw.length : raw.byteLength;
  if (length <= maxLength) return inputToText(raw, maxLength);
  return inputToText(skimMime(raw, maxLength), maxLength);
}

/** Characters whose line ends {@link readInputYielding} normalizes in one piece of work. */
const LINE_END_CHUNK = 64 * 1024;

/**
 * {@link readInput} in pieces, giving the host's event loop a turn between them (through
 * `slice()`): the skim of a large input, the decoding, then the line-end normalization in
 * chunks of {@link LINE_END_CHUNK} characters cut after a line feed (so no `\r\n` is split).
 * The same text as `readInput(raw, maxLength)`, which the parsers then read at once (a second
 * `readInput` of it is a no-op). A 10 MB bounce otherwise holds the loop for 20-40 ms in one turn.
 */
export async function readInputYielding(raw: string | Uint8Array, maxLength: number): Promise<string> {
  const length = typeof raw === 'string' ? raw.length : raw.byteLength;
  // A first check notes when this turn's work began, so the checks after the skim and the
  // decoding (1-2 ms each for a 10 MB mail on a quiet machine) can ask for a turn.
  let turn = slice();
  if (turn !== undefined) await turn;
  let source = raw;
  if (length > maxLength) {
    source = skimMime(raw, maxLength);
    turn = slice();
    if (turn !== undefined) await turn;
  }
  const text = decodeInput(source, maxLength);
  turn = slice();
  if (turn !== undefined) await turn;
  if (text.indexOf('\r') === -1) return text;
  const pieces: string[] = [];
  let from = 0;
  while (from < text.length) {
    let to = from + LINE_END_CHUNK;
    if (to >= text.length) to = text.length;
    else {
      const nl = text.lastIndexOf('\n', to - 1);
      if (nl >= from) to = nl + 1;
      else {
        const next = text.indexOf('\n', to);
        to = next === -1 ? text.length : next + 1;
      }
    }
    pieces.push(text.slice(from, to).replace(/\r+\n?/g, '\n'));
    from = to;
    turn = slice();
    if (turn !== undefined) await turn;
  }
  return pieces.join('');
}

/** Types of parts that carry the report itself: kept whole when skimming. */
const REPORT_PART_TYPES = new Set([
  'message/delivery-status',
  'message/global-delivery-status',
  'message/feedback-report',
  'text/rfc822-headers',
  'message/rfc822-headers',
  'message/global-headers',
]);
/** Most characters of one header block kept when skimming. */
const SKIM_HEADER_BLOCK = 64 * 1024;
/** Most characters of a multipart preamble kept when skimming. */
const SKIM_PREAMBLE = 4096;
/** Least characters kept of any part when skimming, whatever the budget. */
const SKIM_MIN_PART = 4096;
/**
 * Most places where a boundary string is found and checked when skimming: real delimiters are
 * few; a hostile input repeating a short boundary in mid-line stops the search here.
 */
const MAX_SKIM_PROBES = 100_000;

/** A character source over a string or bytes (bytes read as ISO-8859-1: boundaries are ASCII). */
interface SkimSource {
  readonly length: number;
  indexOf(needle: string, from: number): number;
  /** Character code (byte) at `i`. */
  code(i: number): number;
  text(from: number, to: number): string;
  /** The end of a cut at `at`, moved back so that a UTF-8 character is not split. */
  cut(at: number): number;
}

function skimSource(raw: string | Uint8Array): SkimSource {
  if (typeof raw === 'string') {
    return { length: raw.length, indexOf: (n, f) => raw.indexOf(n, f), code: (i) => raw.charCodeAt(i), text: (a, b) => raw.slice(a, b), cut: (at) => at };
  }
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const needles = new Map<string, Buffer>();
  return {
    length: buf.length,
    indexOf(n, f) {
      let needle = needles.get(n);
      if (needle === undefined) needles.set(n, (needle = Buffer.from(n, 'latin1')));
      return buf.indexOf(needle, f);
    },
    code: (i) => buf[i] ?? -1,
    text: (a, b) => buf.toString('latin1', a, b),
    cut(at) {
      let end = at;
      let back = 0;
      while (back < 4 && end > 0 && end < buf.length && ((buf[end] ?? 0) & 0xc0) === 0x80) {
        end--;
        back++;
      }
      return end;
    },
  };
}

type Range = readonly [from: number, to: number];

type SkimNode =
  | { readonly kind: 'leaf'; readonly head: Range; readonly body: Range; readonly report: boolean }
  | { readonly kind: 'multipart'; readonly head: Range; readonly preamble: Range; readonly boundary: string; readonly parts: readonly SkimNode[] }
  | { readonly kind: 'message'; readonly head: Range; readonly inner: SkimNode };

/** End of the header block starting at `start` (after its blank line), or `start` when the entity has no headers. */
function skimHeaderEnd(src: SkimSource, start: number, end: number, top: boolean): number {
  let pos = start;
  let first = true;
  const limit = Math.min(end, start + SKIM_HEADER_BLOCK);
  while (pos < limit) {
    let nl = src.indexOf('\n', pos);
    if (nl === -1 || nl >= end) nl = end;
    const line = src.text(pos, Math.min(nl, pos + 1000)).replace(/\r$/, '');
    if (first) {
      first = false;
      if (!(fieldValueStart(line) !== -1 || (top && line.startsWith('From ')))) return start;
    } else if (line === '') return Math.min(nl + 1, end);
    pos = nl + 1;
  }
  // No blank line within the limit: headers up to there, the rest is body.
  return Math.min(pos, end);
}

function skimEntity(src: SkimSource, from: number, end: number, depth: number, budget: { parts: number; probes: number }, top: boolean): SkimNode {
  budget.parts++;
  let start = from;
  // Blank lines before the headers of a whole message (hand-made or re-wrapped samples), as splitMessage.
  if (top) while (start < end && (src.code(start) === 10 || src.code(start) === 13)) start++;
  const bodyStart = skimHeaderEnd(src, start, end, top);
  const head: Range = [start, bodyStart];
  const headers = parseHeaderBlock(src.text(start, bodyStart).replace(/\r+\n?/g, '\n'));
  const { type, params } = contentTypeOf(headers);
  if (type.startsWith('multipart/') && depth < MAX_DEPTH) {
    const boundary = params['boundary'] ?? guessBoundary(src.text(bodyStart, Math.min(end, bodyStart + 65536)).replace(/\r+\n?/g, '\n'));
    if (boundary !== undefined && boundary !== '') {
      const delim = `--${boundary}`;
      // Delimiter lines: where each starts, where the part after it starts, and whether it closes.
      const delims: { at: number; next: number; closing: boolean }[] = [];
      let pos = bodyStart;
      while (pos < end && budget.parts + delims.length < MAX_PARTS && budget.probes < MAX_SKIM_PROBES) {
        const i = src.indexOf(delim, pos);
        if (i === -1 || i >= end) break;
        budget.probes++;
        pos = i + delim.length;
        // A delimiter only counts at the start of a line, alone on it (or closing).
        if (i > bodyStart && src.code(i - 1) !== 10) continue;
        const closing = src.code(pos) === 45 && src.code(pos + 1) === 45;
        let lineEnd = pos;
        if (!closing) {
          // Only blanks may follow the boundary on its line.
          while (lineEnd < end && lineEnd < pos + 200 && (src.code(lineEnd) === 32 || src.code(lineEnd) === 9 || src.code(lineEnd) === 13)) lineEnd++;
          if (lineEnd < end && src.code(lineEnd) !== 10) continue;
        } else {
          lineEnd = src.indexOf('\n', pos);
          if (lineEnd === -1 || lineEnd > end) lineEnd = end;
        }
        delims.push({ at: i, next: Math.min(lineEnd + 1, end), closing });
        if (closing) break;
      }
      if (delims.length > 0 && !delims[0]!.closing) {
        const parts: SkimNode[] = [];
        for (let k = 0; k < delims.length && !delims[k]!.closing && budget.parts < MAX_PARTS; k++) {
          const from = delims[k]!.next;
          const following = delims[k + 1];
          // The line break before a delimiter belongs to the delimiter; a truncated multipart's last part runs to the end.
          const to = following === undefined ? end : Math.max(from, following.at - 1);
          parts.push(skimEntity(src, from, to, depth + 1, budget, false));
        }
        return { kind: 'multipart', head, preamble: [bodyStart, Math.max(bodyStart, delims[0]!.at - 1)], boundary, parts };
      }
    }
  }
  const cte = headers.get('content-transfer-encoding')?.toLowerCase();
  if (MESSAGE_TYPES.has(type) && depth < MAX_DEPTH && budget.parts < MAX_PARTS && cte !== 'base64' && cte !== 'quoted-printable') {
    return { kind: 'message', head, inner: skimEntity(src, bodyStart, end, depth + 1, budget, false) };
  }
  return { kind: 'leaf', head, body: [bodyStart, end], report: REPORT_PART_TYPES.has(type) };
}

/**
 * A shortened copy of a MIME message: the same structure, every header block, report parts
 * whole (up to {@link MAX_DECODED_BODY}), and the other leaf bodies cut to share the budget.
 */
export function skimMime(raw: string | Uint8Array, budget: number): string | Uint8Array {
  const src = skimSource(raw);
  const end = Math.min(src.length, MAX_SKIM_INPUT);
  const root = skimEntity(src, 0, end, 0, { parts: 0, probes: 0 }, true);

  // What is fixed (headers, delimiters, preambles, report parts), then what the other leaves share.
  let fixed = 0;
  const sizes: number[] = [];
  const walk = (n: SkimNode): void => {
    fixed += n.head[1] - n.head[0];
    if (n.kind === 'leaf') {
      const size = n.body[1] - n.body[0];
      if (n.report) fixed += Math.min(size, MAX_DECODED_BODY);
      else sizes.push(size);
    } else if (n.kind === 'message') walk(n.inner);
    else {
      fixed += Math.min(n.preamble[1] - n.preamble[0], SKIM_PREAMBLE) + (n.parts.length + 1) * (n.boundary.length + 6);
      n.parts.forEach(walk);
    }
  };
  walk(root);
  // Water-filling: small parts whole, the large ones cut to one common length.
  let left = Math.max(0, budget - fixed - 1024);
  let cap = Number.POSITIVE_INFINITY;
  sizes.sort((a, b) => a - b);
  for (let i = 0; i < sizes.length; i++) {
    const share = Math.floor(left / (sizes.length - i));
    if (sizes[i]! > share) {
      cap = Math.max(share, SKIM_MIN_PART);
      break;
    }
    left -= sizes[i]!;
  }

  const pieces: (Range | string)[] = [];
  const take = (r: Range, max: number): void => {
    const to = r[1] - r[0] > max ? src.cut(r[0] + max) : r[1];
    if (to > r[0]) pieces.push([r[0], to]);
  };
  const emit = (n: SkimNode): void => {
    pieces.push(n.head);
    if (n.kind === 'leaf') take(n.body, n.report ? MAX_DECODED_BODY : cap);
    else if (n.kind === 'message') emit(n.inner);
    else {
      take(n.preamble, SKIM_PREAMBLE);
      for (const part of n.parts) {
        pieces.push(`\n--${n.boundary}\n`);
        emit(part);
      }
      pieces.push(`\n--${n.boundary}--\n`);
    }
  };
  emit(root);
  if (typeof raw === 'string') return pieces.map((p) => (typeof p === 'string' ? p : raw.slice(p[0], p[1]))).join('');
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  return Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : bytes.subarray(p[0], p[1]))));
}

// ---------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------

/**
 * Where the value of a header field line starts, or -1 when the line is not one: the pattern
 * `^([!-9;-~]{1,76}):[ \t]*(.*)$` read by hand (a name of 1-76 printable characters other than
 * `:`, then `:`, blanks, and a value without a line terminator), since every line of every
 * header block is tested.
 */
function fieldValueStart(line: string, terminators = true): number {
  const n = line.length;
  let i = 0;
  for (; i < n; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x3a) break;
  }
  if (i === 0 || i > 76 || i === n || line.charCodeAt(i) !== 0x3a) return -1;
  let v = i + 1;
  while (v < n && (line.charCodeAt(v) === 0x20 || line.charCodeAt(v) === 0x09)) v++;
  // `.` matches no line terminator: a value with one is no field line.
  if (terminators) for (let j = v; j < n; j++) {
    const c = line.charCodeAt(j);
    if (c === 0x0d || c === 0x0a || c === 0x2028 || c === 0x2029) return -1;
  }
  return v;
}

/**
 * Parses a header block (lines up to the first empty line). Continuation lines are unfolded
 * with one space; lines that are neither fields nor continuations are skipped, or with
 * `lenient` appended to the field before them.
 */
export function parseHeaderBlock(block: string, lenient = false): HeaderList {
  const fields: HeaderField[] = [];
  const text = block.length > MAX_HEADER_BLOCK ? block.slice(0, MAX_HEADER_BLOCK) : block;
  let name: string | undefined;
  let value = '';
  // Line terminators other than LF are rare: without any, no line needs the check for them.
  // (Substring searches: on one-byte text, the search for \u2028 and \u2029 ends at once.)
  const terminators = text.includes('\r') || text.includes('\u2028') || text.includes('\u2029');
  for (let start = 0; start <= text.length; ) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    const first = line.charCodeAt(0);
    if ((first === 0x20 || first === 0x09) && name !== undefined) {
      value += ' ' + line.trim();
      continue;
    }
    const at = fieldValueStart(line, terminators);
    if (at === -1 && lenient && name !== undefined && line.trim() !== '') {
      // Broken folding (a multi-line reply pasted without indentation): keep it with its field.
      value += ' ' + line.trim();
      continue;
    }
    if (name !== undefined && fields.length < MAX_HEADER_FIELDS) fields.push({ name, value });
    name = undefined;
    if (at !== -1) {
      name = line.slice(0, line.indexOf(':')).toLowerCase();
      value = line.slice(at);
    }
  }
  if (name !== undefined && fields.length < MAX_HEADER_FIELDS) fields.push({ name, value });
  return new HeaderList(fields);
}

/** Whether a line looks like the start of a header field. */
export function isHeaderLine(line: string): boolean {
  return fieldValueStart(line) !== -1;
}

/**
 * Splits a message into its header block and body. A text that does not start with a header
 * field (after an optional mbox `From ` line) has no headers: it is all body.
 */
export function splitMessage(text: string): { headers: string; body: string } {
  let start = 0;
  if (text.startsWith('From ')) {
    const nl = text.indexOf('\n');
    start = nl === -1 ? text.length : nl + 1;
  }
  // Blank lines before the headers happen in hand-made or re-wrapped samples.
  while (text.charCodeAt(start) === 10) start++;
  const firstEnd = text.indexOf('\n', start);
  const firstLine = text.slice(start, firstEnd === -1 ? text.length : firstEnd);
  if (fieldValueStart(firstLine) === -1) return { headers: '', body: text.slice(start) };
  const sep = text.indexOf('\n\n', start);
  if (sep === -1) return { headers: text.slice(start), body: '' };
  return { headers: text.slice(start, sep), body: text.slice(sep + 2) };
}

// ---------------------------------------------------------------------------------------
// Content-Type and parameters
// ---------------------------------------------------------------------------------------

/** Splits `a/b; x=1; y="2;3"` into the value and its parameters (RFC 2231 continuations joined). */
export function parseParams(value: string): { value: string; params: Record<string, string> } {
  const v = value.length > 4096 ? value.slice(0, 4096) : value;
  let parts: string[];
  if (!v.includes('"')) {
    // Nothing quoted: every `;` separates.
    parts = v.split(';');
  } else {
    parts = [];
    let from = 0;
    let quoted = false;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c === 0x22 /* " */ && v.charCodeAt(i - 1) !== 0x5c /* \\ */) quoted = !quoted;
      else if (c === 0x3b /* ; */ && !quoted) {
        parts.push(v.slice(from, i));
        from = i + 1;
      }
    }
    parts.push(v.slice(from));
  }
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  let continued: Record<string, string[]> | undefined;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    let key = p.slice(0, eq).trim().toLowerCase();
    let val = p.slice(eq + 1).trim();
    if (val.startsWith('"')) {
      val = val.slice(1, val.endsWith('"') && val.length > 1 ? -1 : undefined);
      if (val.includes('\\')) val = val.replace(/\\(.)/g, '$1');
    }
    // RFC 2231 names (`title*`, `title*0*`) are the only ones with a `*`.
    const ext = key.includes('*') ? /^(.+?)\*(\d+)?\*?$/.exec(key) : null;
    if (ext) {
      key = ext[1]!;
      if (p.slice(0, eq).trim().endsWith('*')) {
        const m = /^([^']*)'[^']*'(.*)$/.exec(val);
        val = m ? decodePercent(m[2]!, m[1]!) : decodePercent(val, 'utf-8');
      }
      if (ext[2] !== undefined) {
        continued ??= Object.create(null) as Record<string, string[]>;
        (continued[key] ??= [])[Number(ext[2])] = val;
        continue;
      }
    }
    if (!(key in params)) params[key] = val;
  }
  if (continued !== undefined) for (const [key, pieces] of Object.entries(continued)) if (!(key in params)) params[key] = pieces.join('');
  return { value: parts[0]!.trim(), params };
}

function decodePercent(value: string, charset: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '%' && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0) & 0xff);
  }
  return decodeBytes(Uint8Array.from(bytes), charset);
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

const decoders = new Map<string, TextDecoder | null>();

function decoderFor(charset: string): TextDecoder | null {
  let label = charset.trim().toLowerCase().replace(/^["']|["']$/g, '');
  if (label === 'utf8' || label === 'uft-8') label = 'utf-8';
  if (label === '' || label === 'us-ascii' || label === 'ascii' || label === 'ansi_x3.4-1968') label = 'utf-8';
  let d = decoders.get(label);
  if (d === undefined) {
    try {
      d = new TextDecoder(label);
    } catch {
      d = null;
    }
    if (decoders.size < 64) decoders.set(label, d);
  }
  return d;
}

/** Bytes in a charset as text; an unknown charset reads as UTF-8 when valid, else ISO-8859-1. */
export function decodeBytes(bytes: Uint8Array, charset: string | undefined): string {
  const d = charset === undefined ? null : decoderFor(charset);
  if (d !== null && d.encoding !== 'utf-8') return d.decode(bytes);
  return bytesToText(bytes);
}

/** Decodes base64, ignoring anything that is not base64 (line breaks, garbage). */
export function decodeBase64(text: string): Uint8Array {
  return Buffer.from(text.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
}

/** Decodes quoted-printable into bytes (characters above 0x7F are kept as UTF-8). */
export function decodeQuotedPrintable(text: string): Uint8Array {
  // Soft line breaks: `=`, optional trailing blanks, LF.
  const s = text.indexOf('=') === -1 ? text : text.replace(/=[ \t]*\n/g, '');
  const out = Buffer.allocUnsafe(s.length * 3);
  let o = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 61 /* = */ && i + 2 < n + 0) {
      const h = hexValue(s.charCodeAt(i + 1));
      const l = hexValue(s.charCodeAt(i + 2));
      if (h >= 0 && l >= 0) {
        out[o++] = (h << 4) | l;
        i += 2;
        continue;
      }
      out[o++] = c;
    } else if (c < 0x80) {
      out[o++] = c;
    } else {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      o += out.write(String.fromCodePoint(cp), o, 'utf8');
    }
  }
  return out.subarray(0, o);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

const SINGLE_BYTE_SAFE = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii', 'iso-8859-1', 'latin1', 'windows-1252', 'cp1252', '']);

/** Applies a charset to text whose characters are bytes (ISO-8859-1 read), when that is what it is. */
function recode(text: string, charset: string | undefined): string {
  if (charset === undefined || SINGLE_BYTE_SAFE.has(charset.toLowerCase())) return text;
  // Only text read byte for byte (all code points below 256) can be re-read in a charset.
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return text;
  const d = decoderFor(charset);
  if (d === null) return text;
  return d.decode(Buffer.from(text, 'latin1'));
}

/** The body of a leaf as text: transfer encoding and charset decoded, capped at {@link MAX_DECODED_BODY}. */
export function decodeBody(body: string, transferEncoding: string | undefined, charset: string | undefined): string {
  const cte = (transferEncoding ?? '').trim().toLowerCase();
  const src = body.length > MAX_DECODED_BODY * 2 ? body.slice(0, MAX_DECODED_BODY * 2) : body;
  let out: string;
  if (cte === 'base64') out = decodeBytes(decodeBase64(src), charset);
  else if (cte === 'quoted-printable') out = decodeBytes(decodeQuotedPrintable(src), charset);
  else out = recode(src, charset);
  if (out.indexOf('\r') !== -1) out = out.replace(/\r+\n?/g, '\n');
  return out.length > MAX_DECODED_BODY ? out.slice(0, MAX_DECODED_BODY) : out;
}

/** The decoded text of a leaf node. */
export function nodeText(node: MimeNode): string {
  return decodeBody(node.body, node.headers.get('content-transfer-encoding'), node.params['charset']);
}

const ENCODED_WORD = /=\?([^?\s]{1,40})\?([BbQq])\?([^?\s]{0,2000})\?=/g;

/** Decodes RFC 2047 encoded words in a header value (whitespace between adjacent words dropped). */
export function decodeWords(value: string): string {
  if (!value.includes('=?')) return value;
  const v = value.length > 8192 ? value.slice(0, 8192) : value;
  return v.replace(/(\?=)\s+(?==\?)/g, '$1').replace(ENCODED_WORD, (_m, charset: string, enc: string, data: string) => {
    const cs = charset.split('*')[0]!;
    if (enc === 'B' || enc === 'b') return decodeBytes(decodeBase64(data), cs);
    return decodeBytes(decodeQuotedPrintable(data.replace(/_/g, ' ')), cs);
  });
}

// ---------------------------------------------------------------------------------------
// The tree
// ---------------------------------------------------------------------------------------

interface Budget {
  parts: number;
}

const MESSAGE_TYPES = new Set(['message/rfc822', 'message/global', 'message/partial-rfc822']);

function contentTypeOf(headers: HeaderList): { type: string; params: Record<string, string> } {
  const raw = headers.get('content-type');
  if (raw === undefined) return { type: 'text/plain', params: Object.create(null) as Record<string, string> };
  const { value, params } = parseParams(raw);
  const type = value.toLowerCase();
  return { type: /^[\w.+-]+\/[\w.+-]+$/.test(type) ? type : 'text/plain', params };
}

/** Finds `--boundary` delimiter lines, returning the start offsets of the parts between them. */
function splitMultipart(body: string, boundary: string, budget: Budget): { preamble: string; parts: string[] } {
  const delim = '--' + boundary;
  const parts: string[] = [];
  let pos = 0;
  let partStart = -1;
  let preamble = body;
  for (;;) {
    const i = body.indexOf(delim, pos);
    if (i === -1) break;
    // A delimiter only counts at the start of a line.
    if (i > 0 && body.charCodeAt(i - 1) !== 10) {
      pos = i + delim.length;
      continue;
    }
    const lineEnd = body.indexOf('\n', i);
    const after = body.slice(i + delim.length, lineEnd === -1 ? body.length : lineEnd);
    const closing = after.startsWith('--');
    if (!closing && after.trim() !== '') {
      // A longer boundary that starts with ours.
      pos = i + delim.length;
      continue;
    }
    if (partStart === -1) preamble = body.slice(0, Math.max(0, i - 1));
    else parts.push(body.slice(partStart, Math.max(partStart, i - 1)));
    if (closing || lineEnd === -1 || budget.parts + parts.length >= MAX_PARTS) {
      partStart = -1;
      break;
    }
    partStart = lineEnd + 1;
    pos = partStart;
  }
  // A truncated multipart: the last part runs to the end of the input.
  if (partStart !== -1) parts.push(body.slice(partStart));
  return { preamble, parts };
}

/** Guesses the boundary of a multipart whose Content-Type lost it: the first `--xxxx` line. */
function guessBoundary(body: string): string | undefined {
  const m = /^--([^\s]{4,200})[ \t]*$/m.exec(body.length > 65536 ? body.slice(0, 65536) : body);
  return m?.[1];
}

function buildNode(headers: HeaderList, body: string, depth: number, budget: Budget): MimeNode {
  budget.parts++;
  const { type, params } = contentTypeOf(headers);
  if (type.startsWith('multipart/') && depth < MAX_DEPTH) {
    const boundary = params['boundary'] ?? guessBoundary(body);
    if (boundary !== undefined && boundary !== '') {
      const { preamble, parts } = splitMultipart(body, boundary, budget);
      if (parts.length > 0) {
        const children: MimeNode[] = [];
        for (const part of parts) {
          if (budget.parts >= MAX_PARTS) break;
          const { headers: h, body: b } = splitPart(part);
          children.push(buildNode(parseHeaderBlock(h), b, depth + 1, budget));
        }
        return { headers, type, params, body: preamble, children, depth };
      }
    }
    // No usable boundary: read the body as plain text rather than lose it.
    return { headers, type: 'text/plain', params, body, children: [], depth };
  }
  if (MESSAGE_TYPES.has(type) && depth < MAX_DEPTH && budget.parts < MAX_PARTS) {
    let inner = body;
    const cte = headers.get('content-transfer-encoding')?.toLowerCase();
    if (cte === 'base64' || cte === 'quoted-printable') inner = decodeBody(body, cte, 'utf-8');
    const split = splitMessage(inner);
    const message = buildNode(parseHeaderBlock(split.headers), split.body, depth + 1, budget);
    return { headers, type, params, body, children: [], message, depth };
  }
  return { headers, type, params, body, children: [], depth };
}

/** A body part: headers up to the first blank line, unless it starts with a blank line (no headers). */
function splitPart(part: string): { headers: string; body: string } {
  if (part.startsWith('\n')) return { headers: '', body: part.slice(1) };
  const firstEnd = part.indexOf('\n');
  const firstLine = part.slice(0, firstEnd === -1 ? part.length : firstEnd);
  if (fieldValueStart(firstLine) === -1) return { headers: '', body: part };
  const sep = part.indexOf('\n\n');
  if (sep === -1) return { headers: part, body: '' };
  return { headers: part.slice(0, sep), body: part.slice(sep + 2) };
}

/** Parses a whole message (already converted by {@link inputToText}) into a MIME tree. */
export function parseMessage(text: string): MimeNode {
  const { headers, body } = splitMessage(text);
  return buildNode(parseHeaderBlock(headers), body, 0, { parts: 0 });
}

// ---------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

function removeBlocks(html: string, tag: string): string {
  let out = '';
  let pos = 0;
  const lower = html.toLowerCase();
  for (;;) {
    const start = lower.indexOf('<' + tag, pos);
    if (start === -1) break;
    out += html.slice(pos, start);
    const end = lower.indexOf('</' + tag, start);
    if (end === -1) return out;
    const close = lower.indexOf('>', end);
    pos = close === -1 ? html.length : close + 1;
  }
  return out + html.slice(pos);
}

/** An `<a href="mailto:...">text</a>` link: the address (group 1) and the link text (group 2). */
// Each piece after the address can only start where the one before it stopped (no two bounded
// runs over the same characters), so a hostile page costs linear time.
const MAILTO_LINK = /<a\b[^>]{0,500}?\bhref\s{0,3}=\s{0,3}["']?mailto:([^"'<>\s?&]{3,320})(?:[?&][^"'<>\s]{0,500})?["']?(?:\s[^>]{0,500})?>([^<]{0,500})<\/a\s{0,3}>/gi;

/** HTML as plain text: blocks become lines, tags go, `mailto:` links keep their address, entities are decoded. Linear time. */
export function htmlToText(html: string): string {
  let h = html.length > MAX_HTML ? html.slice(0, MAX_HTML) : html;
  h = removeBlocks(removeBlocks(removeBlocks(h, 'style'), 'script'), 'head');
  // A link whose text is a name (`<a href="mailto:ann@b.example">Ann Lee</a>`, Exchange's HTML-only
  // reports): the address stays, written after the name, since the tags go.
  if (h.includes('mailto:')) h = h.replace(MAILTO_LINK, (m, address: string, text: string) => (text.includes('@') ? text : `${text} &lt;${address}&gt;`));
  h = h
    .replace(/<(?:br|\/p|\/div|\/tr|\/li|\/h\d|\/table|p|div|tr|li|hr)\b[^>]{0,1000}>/gi, '\n')
    .replace(/<\/?(?:td|th)\b[^>]{0,1000}>/gi, ' ')
    .replace(/<[^>]{0,2000}>/g, '')
    .replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8}|#39);/gi, (m, e: string) => {
      const lower = e.toLowerCase();
      if (lower.startsWith('#x')) return safeCodePoint(parseInt(lower.slice(2), 16), m);
      if (lower.startsWith('#') && lower !== '#39') return safeCodePoint(parseInt(lower.slice(1), 10), m);
      return ENTITIES[lower] ?? m;
    });
  return h
    .split('\n')
    .map((l) => l.replace(/[ \t\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n');
}

function safeCodePoint(cp: number, fallback: string): string {
  return Number.isInteger(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : fallback;
}

// ---------------------------------------------------------------------------------------
// Addresses and dates
// ---------------------------------------------------------------------------------------

/** Addresses inside free text: ASCII local part, dotted domain with a letter TLD. */
export const ADDRESS_IN_TEXT =
  /[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59})(?![A-Za-z0-9-])/g;

// Without the g flag: exec on the shared global pattern would leave a lastIndex behind that
// later matchAll calls start from.
const ADDRESS_ONE = new RegExp(ADDRESS_IN_TEXT.source);
/** {@link ADDRESS_IN_TEXT} for {@link allAddresses} alone (its `lastIndex` is reset around each use). */
const ADDRESS_SCAN = new RegExp(ADDRESS_IN_TEXT.source, 'g');

const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+)*$/;
const QUOTED_LOCAL = /^"(?:[^"\\\r\n]|\\[^\r\n]){1,62}"$/;
/** `local@[192.0.2.1]` or `local@[IPv6:2001:db8::1]`: the local part (1) and the address literal (2). */
const ADDRESS_LITERAL = /^([^@\s]{1,64})@(\[(?:\d{1,3}(?:\.\d{1,3}){3}|IPv6:[\da-f:.]{2,45})\])$/i;
const DOMAIN_LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

/**
 * Cleans an address read from a report: drops `rfc822;` types, angle brackets, quotes and a
 * `mailto:` prefix, lower-cases the domain, and checks the shape (no CR/LF or spaces, local
 * part at most 64 characters, valid domain labels or an address literal such as `[192.0.2.1]`, at most 254 characters in all).
 *
 * @returns The address, or `undefined` when it is not one.
 */
export function sanitizeAddress(value: string | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  let v = value.length > 600 ? value.slice(0, 600) : value;
  v = v.trim();
  // Each pattern only where the character it needs is there: most values are a plain address.
  const semi = v.includes(';') ? ADDRESS_TYPE.exec(v) : null;
  if (semi) v = v.slice(semi[0].length);
  const angle = v.includes('<') ? IN_ANGLES.exec(v) : null;
  if (angle) v = angle[1]!;
  v = v.trim();
  if ((v.charCodeAt(0) | 0x20) === 0x6d /* m */) v = v.replace(/^mailto:/i, '');
  if (QUOTE_EDGE.has(v.charCodeAt(0)) || TRAILING_EDGE.has(v.charCodeAt(v.length - 1))) v = v.replace(/^['`]+|['`.,;:]+$/g, '');
  // An address literal as the domain (`ann@[192.0.2.1]`, RFC 5321): kept as it is written.
  const literal = v.endsWith(']') ? ADDRESS_LITERAL.exec(v) : null;
  if (literal !== null) return LOCAL_PART.test(literal[1]!) && literal[1]!.length <= 64 ? `${literal[1]!}@${literal[2]!.toLowerCase()}` : undefined;
  if (v.length === 0 || v.length > 254 || NOT_IN_ADDRESS.test(v.charCodeAt(0) === 0x22 ? v.replace(/^"[^"]*"/, 'q') : v)) return undefined;
  const at = v.lastIndexOf('@');
  if (at <= 0 || at === v.length - 1) return undefined;
  const local = v.slice(0, at);
  let domain = v.slice(at + 1).toLowerCase();
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  if (local.length > 64 || (!LOCAL_PART.test(local) && !QUOTED_LOCAL.test(local))) return undefined;
  if (domain.length > 253 || !(asciiDomainLabels(domain) ?? domain.split('.').every((l) => DOMAIN_LABEL.test(l)))) return undefined;
  return `${local}@${domain}`;
}

const ADDRESS_TYPE = /^[A-Za-z][\w.-]{0,20}\s*;\s*/;
const IN_ANGLES = /<([^<>]*)>/;
const NOT_IN_ADDRESS = /[\s\u0000-\u001f\u007f<>()[\],;:\\]/;
/** First and last characters that {@link sanitizeAddress} strips (`'`, `` ` ``; and `.`, `,`, `;`, `:` at the end). */
const QUOTE_EDGE: ReadonlySet<number> = new Set([0x27, 0x60]);
const TRAILING_EDGE: ReadonlySet<number> = new Set([0x27, 0x60, 0x2e, 0x2c, 0x3b, 0x3a]);

/**
 * Whether every label of an ASCII domain is {@link DOMAIN_LABEL} (1-63 letters, digits and
 * inner hyphens), read by hand; `undefined` when the domain has a non-ASCII character (the
 * Unicode pattern decides).
 */
function asciiDomainLabels(domain: string): boolean | undefined {
  const n = domain.length;
  let start = 0;
  let ok = true;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? domain.charCodeAt(i) : 0x2e;
    if (c >= 0x80) return undefined;
    if (c === 0x2e) {
      const length = i - start;
      if (length < 1 || length > 63 || !asciiAlnum(domain.charCodeAt(start)) || !asciiAlnum(domain.charCodeAt(i - 1))) ok = false;
      start = i + 1;
    } else if (c !== 0x2d && !asciiAlnum(c)) ok = false;
  }
  return ok;
}

function asciiAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

/** The first address in a header value such as `"Ann" <ann@example.com>` or `ann@example.com (Ann)`. */
export function firstAddress(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const angle = /<([^<>\s]{3,300})>/.exec(value);
  if (angle) {
    const a = sanitizeAddress(angle[1]);
    if (a !== undefined) return a;
  }
  const m = ADDRESS_ONE.exec(value.length > 2000 ? value.slice(0, 2000) : value);
  return m ? sanitizeAddress(m[0]) : undefined;
}

/** Every address in a header value (`To: a@x, "B" <b@y>`). */
export function allAddresses(value: string | undefined, max = 100): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  const text = value.length > 20000 ? value.slice(0, 20000) : value;
  // Every address has an `@`: most values without one need no scan.
  if (!text.includes('@')) return out;
  // exec on a private global pattern rather than matchAll, which copies the pattern each call.
  const re = ADDRESS_SCAN;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const a = sanitizeAddress(m[0]);
    if (a !== undefined && !out.includes(a)) out.push(a);
    if (out.length >= max) break;
  }
  re.lastIndex = 0;
  return out;
}

/** An RFC 5322 date (comments allowed) as ms since the epoch, or `undefined`. */
export function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.replace(/\([^()]{0,100}\)/g, ' ').trim().slice(0, 100);
  if (v === '') return undefined;
  let t = Date.parse(v);
  // Zone names Date.parse does not know (JST, CEST...): read the time as UTC rather than lose it.
  if (Number.isNaN(t)) t = Date.parse(v.replace(/\s+[A-Z]{2,5}$/, ' +0000'));
  return Number.isNaN(t) ? undefined : t;
}

/** A Message-ID with angle brackets, or `undefined` when the value holds none. */
export function cleanMessageId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().slice(0, 1000);
  const m = /<([^<>\s]{1,900})>/.exec(v) ?? /^([^<>\s]{1,900}@[^<>\s]{1,255})$/.exec(v);
  return m ? `<${m[1]!}>` : undefined;
}

// ---------------------------------------------------------------------------------------
// Returned messages
// ---------------------------------------------------------------------------------------

const HEADERS_TYPES = new Set(['text/rfc822-headers', 'message/rfc822-headers', 'message/global-headers']);

/** A few headers of a returned message, decoded, on one line, capped. */
export function readOriginalHeaders(headers: HeaderList): OriginalHeaders | undefined {
  const out: { -readonly [K in keyof OriginalHeaders]: OriginalHeaders[K] } = {};
  const one = (name: string): string | undefined => {
    const v = headers.get(name);
    if (v === undefined || v === '') return undefined;
    const d = decodeWords(v).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    return d.length > 998 ? d.slice(0, 998) : d;
  };
  const id = cleanMessageId(headers.get('message-id'));
  if (id !== undefined) out.messageId = id;
  const from = one('from');
  if (from !== undefined) out.from = from;
  const to = one('to');
  if (to !== undefined) out.to = to;
  const subject = one('subject');
  if (subject !== undefined) out.subject = subject;
  const date = one('date');
  if (date !== undefined) out.date = date;
  const jobId = one('x-mailpush-job-id');
  if (jobId !== undefined) out.jobId = jobId;
  const mid = one('x-mailpush-message-id');
  if (mid !== undefined) out.mailpushMessageId = mid;
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * Headers of a message quoted in text after a "copy of the message follows" line: the first
 * header block within the first lines, with a common indentation removed.
 */
export function headersInText(text: string): HeaderList | undefined {
  const lines = text.slice(0, 262144).split('\n', 400);
  let i = 0;
  while (i < lines.length && i < 60 && !isHeaderLine(lines[i]!.trim())) i++;
  if (i >= lines.length || i >= 60) return undefined;
  const indent = /^[ \t]*/.exec(lines[i]!)![0];
  const block: string[] = [];
  for (; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.trim() === '') break;
    if (indent !== '' && line.startsWith(indent)) line = line.slice(indent.length);
    block.push(line);
  }
  const list = parseHeaderBlock(block.join('\n'));
  return list.fields.length > 0 ? list : undefined;
}

// ---------------------------------------------------------------------------------------
// A report as a whole
// ---------------------------------------------------------------------------------------

/** The parts of a feedback mail that the parsers look at. */
export interface ReportView {
  readonly root: MimeNode;
  readonly headers: HeaderList;
  /** Raw top header block. */
  readonly headerBlock: string;
  /** Decoded Subject. */
  readonly subject: string;
  /** Decoded From header. */
  readonly fromHeader: string;
  /** `report-type` of a top-level (or first) multipart/report, lower case. */
  readonly reportType?: string;
  /** Human-readable texts (text/plain, or text/html as text), in document order. */
  readonly texts: readonly string[];
  /** Bodies of message/delivery-status parts. */
  readonly dsnTexts: readonly string[];
  /** Bodies of message/feedback-report parts. */
  readonly feedbackTexts: readonly string[];
  /** Headers of the returned original message, when returned as a MIME part. */
  readonly returned?: HeaderList;
  /** Whether a message/rfc822 (or headers) part is present. */
  readonly hasReturnedPart: boolean;
}

const DSN_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);
const LOOKS_LIKE_HEADERS = /^(?:Received|Return-Path|From|Message-ID|Date|Subject|To|DKIM-Signature|X-[\w-]+|MIME-Version):/im;

/** Reads a mail (text from {@link inputToText}) into a {@link ReportView}. */
export function readReport(text: string): ReportView {
  const { headers, body } = splitMessage(text);
  return viewOf(buildNode(parseHeaderBlock(headers), body, 0, { parts: 0 }), headers);
}

/**
 * The report enclosed in a mail that forwards it as a `message/rfc822` part (a bounce
 * forwarded by a person or wrapped by a gateway), or `undefined`.
 */
export function forwardedReport(view: ReportView): ReportView | undefined {
  const find = (node: MimeNode): MimeNode | undefined => {
    if (node.message !== undefined) {
      const inner = node.message;
      const isReport = inner.type === 'multipart/report' || inner.children.some((c) => c.type === 'multipart/report' || DSN_TYPES.has(c.type));
      return isReport ? inner : undefined;
    }
    for (const c of node.children) {
      const hit = find(c);
      if (hit !== undefined) return hit;
    }
    return undefined;
  };
  const inner = find(view.root);
  if (inner === undefined) return undefined;
  return viewOf(inner, inner.headers.fields.map((f) => `${f.name}: ${f.value}`).join('\n'));
}

function viewOf(root: MimeNode, headerBlock: string): ReportView {
  const texts: string[] = [];
  const dsnTexts: string[] = [];
  const feedbackTexts: string[] = [];
  let reportType: string | undefined;
  let returned: HeaderList | undefined;
  let hasReturnedPart = false;

  const visit = (node: MimeNode): void => {
    if (node.children.length > 0) {
      if (node.type === 'multipart/report' && reportType === undefined) reportType = (node.params['report-type'] ?? '').toLowerCase();
      const alt = node.type === 'multipart/alternative' && node.children.some((c) => c.type === 'text/plain');
      for (const c of node.children) if (!(alt && c.type === 'text/html')) visit(c);
      return;
    }
    if (node.message !== undefined) {
      hasReturnedPart = true;
      if (returned === undefined && node.message.headers.fields.length > 0) returned = node.message.headers;
      return;
    }
    if (DSN_TYPES.has(node.type)) {
      dsnTexts.push(nodeText(node));
      return;
    }
    if (node.type === 'message/feedback-report') {
      feedbackTexts.push(nodeText(node));
      return;
    }
    if (HEADERS_TYPES.has(node.type)) {
      hasReturnedPart = true;
      if (returned === undefined) {
        const list = parseHeaderBlock(splitMessage(nodeText(node)).headers);
        if (list.fields.length > 0) returned = list;
      }
      return;
    }
    if (node.type === 'text/html') {
      texts.push(htmlToText(nodeText(node)));
      return;
    }
    if (node.type.startsWith('text/')) {
      const body = nodeText(node);
      const disposition = (node.headers.get('content-disposition') ?? '').toLowerCase();
      // A returned header block sent as a text attachment (mailheaders.txt).
      if (node.depth > 0 && disposition.startsWith('attachment') && LOOKS_LIKE_HEADERS.test(body.slice(0, 200))) {
        hasReturnedPart = true;
        if (returned === undefined) {
          const list = parseHeaderBlock(splitMessage(body).headers);
          if (list.fields.length > 0) returned = list;
        }
        return;
      }
      texts.push(body);
    }
  };
  visit(root);

  const view: { -readonly [K in keyof ReportView]: ReportView[K] } = {
    root,
    headers: root.headers,
    headerBlock,
    subject: decodeWords(root.headers.get('subject') ?? '').replace(/[\u0000-\u001f]+/g, ' ').trim(),
    fromHeader: decodeWords(root.headers.get('from') ?? '').replace(/[\u0000-\u001f]+/g, ' ').trim(),
    texts,
    dsnTexts,
    feedbackTexts,
    hasReturnedPart,
  };
  if (reportType !== undefined) view.reportType = reportType;
  if (returned !== undefined) view.returned = returned;
  return view;
}

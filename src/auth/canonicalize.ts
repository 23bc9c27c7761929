/**
 * DKIM "relaxed" canonicalization (RFC 6376 3.4.2 and 3.4.4) of a composed message, and the
 * split of a message into its header fields and body. Works on bytes: header fields are
 * handled as latin1 strings, one character per byte, so the signed data are exactly the bytes
 * a verifier canonicalizes.
 *
 * @module
 */

import { createHash } from 'node:crypto';

/** One header field of a message, as it appears in the header section. */
export interface HeaderField {
  /** Field name in lower case, surrounding SP and HTAB removed. */
  readonly key: string;
  /** The whole field, name and value, folding kept, without the final line break (latin1). */
  readonly line: string;
}

/** A message split at the first empty line. */
export interface SplitMessage {
  /** Header fields in order, top to bottom. */
  readonly headers: readonly HeaderField[];
  /** The body, a view into the message bytes (empty when there is none). */
  readonly body: Buffer;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const CRLF = Buffer.from('\r\n');
const EMPTY = Buffer.alloc(0);
// Worst case of canonicalization is a body of bare LFs, each turned into CRLF; larger bodies
// are hashed in slices of this size.
const OUT_CHUNK = 64 * 1024;

/** Removes SP and HTAB at both ends (not `trim()`: other Unicode spaces are content in DKIM). */
function trimWsp(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && (s.charCodeAt(start) === SP || s.charCodeAt(start) === TAB)) start++;
  while (end > start && (s.charCodeAt(end - 1) === SP || s.charCodeAt(end - 1) === TAB)) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * Splits a message into header fields and body. The header section ends at the first empty
 * line (CRLF CRLF, or LF LF for a message with bare line feeds); without one the whole
 * message is header.
 */
export function splitMessage(raw: Buffer): SplitMessage {
  const crlf = raw.indexOf('\r\n\r\n');
  const lflf = raw.indexOf('\n\n');
  let headerEnd: number;
  let bodyStart: number;
  if (crlf >= 0 && (lflf < 0 || crlf < lflf)) {
    headerEnd = crlf;
    bodyStart = crlf + 4;
  } else if (lflf >= 0) {
    headerEnd = lflf;
    bodyStart = lflf + 2;
  } else {
    headerEnd = raw.length;
    bodyStart = raw.length;
  }
  // A message that starts with an empty line has no header at all.
  if (raw.length >= 2 && raw[0] === CR && raw[1] === LF) return { headers: [], body: raw.subarray(2) };
  if (raw.length >= 1 && raw[0] === LF) return { headers: [], body: raw.subarray(1) };
  const text = raw.toString('latin1', 0, headerEnd);
  const headers: HeaderField[] = [];
  let current: string | undefined;
  for (const part of text.split('\n')) {
    const line = part.endsWith('\r') ? part.slice(0, -1) : part;
    const first = line.charCodeAt(0);
    if (current !== undefined && (first === SP || first === TAB)) {
      current += `\r\n${line}`;
      continue;
    }
    if (current !== undefined) headers.push(field(current));
    current = line;
  }
  if (current !== undefined && current !== '') headers.push(field(current));
  return { headers, body: bodyStart >= raw.length ? EMPTY : raw.subarray(bodyStart) };
}

function field(line: string): HeaderField {
  const colon = line.indexOf(':');
  const name = colon < 0 ? line : line.slice(0, colon);
  return { key: trimWsp(name).toLowerCase(), line };
}

/**
 * Relaxed header canonicalization of one field (RFC 6376 3.4.2): name in lower case, value
 * unfolded, runs of SP and HTAB turned into one SP, whitespace around the colon and at the
 * end removed. Returns `name:value` without a line break.
 */
export function relaxedHeader(line: string): string {
  const colon = line.indexOf(':');
  if (colon < 0) return `${trimWsp(line.replace(/\r?\n/g, '')).toLowerCase()}:`;
  const name = trimWsp(line.slice(0, colon)).toLowerCase();
  const value = trimWsp(line.slice(colon + 1).replace(/\r?\n/g, '').replace(/[ \t]+/g, ' '));
  return `${name}:${value}`;
}

/**
 * True when the body is already in relaxed canonical form line by line (CRLF line ends, no
 * HTAB, no runs of spaces, no trailing space, no bare CR): base64 and quoted-printable
 * parts always are, so the common case is checked with native searches only.
 */
function isCleanBody(body: Buffer): boolean {
  if (body.indexOf(TAB) >= 0 || body.indexOf('  ') >= 0 || body.indexOf(' \r') >= 0) return false;
  if (body.length > 0 && body[body.length - 1] === SP) return false;
  let crs = 0;
  for (let i = body.indexOf(CR); i >= 0; i = body.indexOf(CR, i + 1)) {
    if (body[i + 1] !== LF) return false;
    crs++;
  }
  let lfs = 0;
  for (let i = body.indexOf(LF); i >= 0; i = body.indexOf(LF, i + 1)) lfs++;
  return crs === lfs;
}

/**
 * Base64 SHA-256 of the relaxed canonical body (RFC 6376 3.4.4): whitespace at line ends
 * dropped, runs of SP and HTAB inside a line reduced to one SP, empty lines at the end
 * ignored, a final CRLF added to a non-empty body. A bare LF counts as a line end (the SMTP
 * client sends it as CRLF).
 */
export function relaxedBodyHash(body: Buffer): string {
  const hash = createHash('sha256');
  if (isCleanBody(body)) {
    let end = body.length;
    while (end >= 2 && body[end - 2] === CR && body[end - 1] === LF) end -= 2;
    if (end > 0) {
      hash.update(body.subarray(0, end));
      hash.update(CRLF);
    }
    return hash.digest('base64');
  }
  const out = Buffer.allocUnsafe(OUT_CHUNK + 8);
  let pos = 0;
  let lineHasContent = false;
  let pendingWsp = false;
  let pendingCr = false;
  let pendingEmptyLines = 0;
  const flush = (): void => {
    if (pos > 0) hash.update(out.subarray(0, pos));
    pos = 0;
  };
  const content = (c: number): void => {
    if (!lineHasContent) {
      // Empty lines only count once something follows them.
      for (; pendingEmptyLines > 0; pendingEmptyLines--) {
        if (pos >= OUT_CHUNK) flush();
        out[pos++] = CR;
        out[pos++] = LF;
      }
      lineHasContent = true;
    }
    if (pos >= OUT_CHUNK) flush();
    if (pendingWsp) {
      out[pos++] = SP;
      pendingWsp = false;
    }
    out[pos++] = c;
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === LF) {
      if (lineHasContent) {
        if (pos >= OUT_CHUNK) flush();
        out[pos++] = CR;
        out[pos++] = LF;
        lineHasContent = false;
      } else {
        pendingEmptyLines++;
      }
      pendingWsp = false;
      pendingCr = false;
      continue;
    }
    if (pendingCr) {
      // A CR not followed by LF is content.
      content(CR);
      pendingCr = false;
    }
    if (c === CR) pendingCr = true;
    else if (c === SP || c === TAB) pendingWsp = true;
    else content(c);
  }
  if (pendingCr) content(CR);
  if (lineHasContent) {
    if (pos >= OUT_CHUNK) flush();
    out[pos++] = CR;
    out[pos++] = LF;
  }
  flush();
  return hash.digest('base64');
}

/**
 * Source of the DKIM signing worker thread, run with `new Worker(source, { eval: true })`.
 *
 * A self-contained CommonJS script that uses node: built-ins only, so it runs the same from
 * the TypeScript sources (vitest, tsx) and from the compiled package in dist/, with no worker
 * file to resolve by URL. It does the work that grows with the message: the relaxed body
 * canonicalization and its SHA-256 (a copy of `relaxedBodyHash` in canonicalize.ts; a test
 * checks both give the same hash on every body shape), then the private-key operation of
 * each signature.
 *
 * Protocol (structured clone; the body's ArrayBuffer is transferred, not copied):
 * - workerData: `{ keys: KeyObject[] }`, the signer's private keys by index
 * - in: `{ id, body: ArrayBuffer, parts: [{ key, ed25519, before, after }] }` where the data
 *   to sign of part i is `before + bodyHash + after` (latin1)
 * - out: `{ id, bodyHash, signatures: string[] }` (base64) or `{ id, error }`
 *
 * @module
 */

/** The worker script. */
export const DKIM_WORKER_SOURCE = String.raw`'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createHash, sign } = require('node:crypto');

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const CRLF = Buffer.from('\r\n');
const OUT_CHUNK = 64 * 1024;
const keys = workerData.keys;

function isCleanBody(body) {
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

function relaxedBodyHash(body) {
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
  function flush() {
    if (pos > 0) hash.update(out.subarray(0, pos));
    pos = 0;
  }
  function content(c) {
    if (!lineHasContent) {
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
  }
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
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

parentPort.on('message', (job) => {
  try {
    const bodyHash = relaxedBodyHash(Buffer.from(job.body));
    const signatures = job.parts.map((part) => {
      const data = Buffer.from(part.before + bodyHash + part.after, 'latin1');
      // RFC 8463 3: Ed25519 signs the SHA-256 of the data, RSA the data (PKCS#1 v1.5, SHA-256).
      const signature = part.ed25519 ? sign(null, createHash('sha256').update(data).digest(), keys[part.key]) : sign('sha256', data, keys[part.key]);
      return signature.toString('base64');
    });
    parentPort.postMessage({ id: job.id, bodyHash, signatures });
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: String(err && err.message ? err.message : err) });
  }
});
`;

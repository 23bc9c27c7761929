/**
 * The unsubscribe endpoint as a Fetch API handler (`Request` -> `Response`), served under the
 * mailer's `unsubscribe.url`: each message links to `<url>/<token>`, and the handler reads the
 * token from the last segment of the path.
 *
 * - `POST` with the body `List-Unsubscribe=One-Click`, `application/x-www-form-urlencoded`
 *   (Gmail) or `multipart/form-data` (RFC 8058's SHOULD): the token is verified, the address
 *   unsubscribed from the token's list, and `200` answered with a short page, never a
 *   redirect. Cookies and other context are ignored. Repeating it changes nothing more.
 * - `GET` (and `HEAD`) never changes anything (mail scanners prefetch links): a confirmation
 *   page whose button POSTs the one-click body to the same URL.
 * - A malformed token answers 400, a token no secret verifies 404, an expired one 410: nobody
 *   is unsubscribed. A body over `maxBodyBytes` answers 413, a wrong body 400, another method
 *   405, a failing store 503 (the sender retries). Nothing throws out of the handler.
 *
 * @module
 */

import { configError, isMailError, MailErrorCode } from '../errors.js';
import { readBody } from '../http/body.js';
import type { Mailer } from '../mailer/options.js';
import { confirmPage, donePage, errorPage, PAGE_HEADERS } from './page.js';
import type { UnsubscribeSettings } from './settings.js';
import { unsubscribeAddress } from './subscriptions.js';
import { verifyToken } from './token.js';
import type { TokenFailure } from './token.js';

/** Default body cap of the handler: 16 KiB (the one-click body is 26 bytes). */
export const DEFAULT_UNSUBSCRIBE_MAX_BODY_BYTES = 16 * 1024;

/** Options of {@link createUnsubscribeHandler}. */
export interface UnsubscribeHandlerOptions {
  /** The mailer whose `unsubscribe` secrets verify tokens and whose store and suppression list change. */
  readonly mailer: Pick<Mailer, 'unsubscribe' | 'subscriptions' | 'feedback' | 'suppression'>;
  /** Largest request body read, bytes (from 256 to 1_048_576). @default 16_384 */
  readonly maxBodyBytes?: number;
  /** Time source, ms since the epoch (token lifetime). @default Date.now */
  readonly now?: () => number;
}

/** The handler: a Fetch API function, with its body cap for `toNodeHandler`. */
export interface UnsubscribeHandler {
  (request: Request): Promise<Response>;
  /** The body cap, used by `toNodeHandler`. */
  readonly maxBodyBytes: number;
}

const FAILURES: Readonly<Record<TokenFailure, readonly [number, string, string]>> = {
  malformed: [400, 'Invalid link', 'This unsubscribe link is incomplete or damaged. Copy the whole link from the email.'],
  invalid: [404, 'Unknown link', 'This unsubscribe link is not valid.'],
  expired: [410, 'Expired link', 'This unsubscribe link has expired. Use the link of a recent email.'],
};

function page(status: number, html: string, extra: Record<string, string> = {}): Response {
  return new Response(html, { status, headers: { ...PAGE_HEADERS, ...extra } });
}

function fail(status: number, title: string, detail: string, extra?: Record<string, string>): Response {
  return page(status, errorPage(title, detail), extra);
}

/** Whether the body is exactly the one-click form, in either encoding. */
async function isOneClick(contentType: string, body: Uint8Array): Promise<boolean | 'unsupported'> {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/x-www-form-urlencoded') {
    const params = new URLSearchParams(Buffer.from(body).toString('utf8'));
    return params.getAll('List-Unsubscribe').includes('One-Click');
  }
  if (type === 'multipart/form-data') {
    try {
      const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
      return form.getAll('List-Unsubscribe').includes('One-Click');
    } catch {
      return false;
    }
  }
  return 'unsupported';
}

/** The last non-empty path segment: the token. */
function tokenOf(request: Request): string | undefined {
  let path: string;
  try {
    path = new URL(request.url).pathname;
  } catch {
    return undefined;
  }
  const segments = path.split('/').filter((s) => s !== '');
  return segments[segments.length - 1];
}

/**
 * Creates the unsubscribe endpoint for a mailer configured with `unsubscribe` (a CONFIG
 * MailError otherwise). Serve it at the path of `unsubscribe.url` and below, directly in a
 * Fetch runtime or through `toNodeHandler` in node:http, Express or Fastify.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createMailer, smtpTransport } from 'mailpush';
 * import { createUnsubscribeHandler, toNodeHandler } from 'mailpush/unsubscribe';
 *
 * const mailer = createMailer({
 *   transport: smtpTransport({ host: 'relay.internal', port: 587 }),
 *   unsubscribe: { url: 'https://u.example.com/unsubscribe', secrets: [process.env.UNSUB_SECRET!] },
 *   postalAddress: 'Example Inc., 1 Main St, Springfield, USA',
 * });
 * const handler = createUnsubscribeHandler({ mailer });
 * createServer(toNodeHandler(handler)).listen(8080); // behind https://u.example.com/unsubscribe/
 * ```
 */
export function createUnsubscribeHandler(options: UnsubscribeHandlerOptions): UnsubscribeHandler {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object { mailer }', options);
  const mailer = options.mailer;
  if (typeof mailer !== 'object' || mailer === null || typeof mailer.feedback?.ingest !== 'function') throw configError('mailer', 'a mailer from createMailer()', mailer);
  const settings: UnsubscribeSettings | undefined = mailer.unsubscribe;
  if (settings === undefined) throw configError('mailer.unsubscribe', 'configured: createMailer({ unsubscribe: { url, secrets } })', settings);
  const max = options.maxBodyBytes ?? DEFAULT_UNSUBSCRIBE_MAX_BODY_BYTES;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 256 || max > 1_048_576) throw configError('maxBodyBytes', 'an integer from 256 to 1048576', max);
  const now = options.now ?? (() => Date.now());
  if (typeof now !== 'function') throw configError('now', 'a function returning ms since the epoch', now);

  const handle = async (request: Request): Promise<Response> => {
    const method = request.method.toUpperCase();
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
      return fail(405, 'Method not allowed', 'Use the link in the email.', { allow: 'GET, HEAD, POST' });
    }
    let body: Uint8Array | undefined;
    if (method === 'POST') {
      // Read (and cap) the body before anything else, so an oversized request is cut short.
      body = await readBody(request, max);
      if (body === undefined) return fail(413, 'Request too large', `The body is over ${max} bytes.`, { connection: 'close' });
    }
    const check = verifyToken(settings.keys, tokenOf(request), now(), settings.tokenTtlMs);
    if (!check.ok) {
      const [status, title, detail] = FAILURES[check.reason];
      return fail(status, title, detail);
    }
    if (method !== 'POST') return page(200, method === 'HEAD' ? '' : confirmPage(check.list, check.recipient));
    const oneClick = await isOneClick(request.headers.get('content-type') ?? '', body as Uint8Array);
    if (oneClick !== true) {
      return oneClick === 'unsupported'
        ? fail(415, 'Unsupported request', 'Send List-Unsubscribe=One-Click as application/x-www-form-urlencoded or multipart/form-data.')
        : fail(400, 'Bad request', 'The body must be List-Unsubscribe=One-Click.');
    }
    const at = now();
    try {
      await unsubscribeAddress(mailer, check.list, check.recipient, { at, source: 'one-click', proof: `token issued ${new Date(check.issuedAt).toISOString()}` }, { campaign: check.campaign });
    } catch (err) {
      if (isMailError(err) && err.code === MailErrorCode.VALIDATION) return fail(400, 'Invalid link', 'This unsubscribe link names no valid address or list.');
      return fail(503, 'Try again', 'The unsubscribe could not be recorded right now. Please try again in a minute.', { 'retry-after': '60' });
    }
    return page(200, donePage(check.list));
  };

  const handler = async (request: Request): Promise<Response> => {
    try {
      return await handle(request);
    } catch {
      return fail(500, 'Error', 'Something went wrong.');
    }
  };
  return Object.assign(handler, { maxBodyBytes: max });
}

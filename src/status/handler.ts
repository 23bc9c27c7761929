/**
 * The live status page as a Fetch API handler (`Request` -> `Response`), with the Node adapter
 * `toNodeHandler` for node:http, Express and Fastify. `GET` answers the page; `GET ?format=json`
 * (or `Accept: application/json`) answers the {@link StatusView} the page polls.
 *
 * The page shows recipient domains, masked recipients of recent failures and server answers:
 * serve it on an internal port or behind `authorize`.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { configError } from '../errors.js';
import { createMetrics } from '../metrics/collector.js';
import type { MailerMetrics } from '../metrics/collector.js';
import type { Mailer } from '../mailer/options.js';
import { renderPage } from './page.js';
import { CampaignTracker, buildView } from './view.js';

/** Options of {@link createStatusHandler}. */
export interface StatusHandlerOptions {
  /** The mailer to show. */
  readonly mailer: Mailer;
  /**
   * A collector already observing this mailer (shared with the Prometheus exporter).
   * @default a collector of its own, observing `mailer` until `close()`
   */
  readonly metrics?: MailerMetrics;
  /** Page title. @default 'mailpush' */
  readonly title?: string;
  /** How often the page polls, ms (250 to 60_000). @default 1000 */
  readonly refreshMs?: number;
  /**
   * Decides whether a request may see the page (check a session cookie, a header, the client
   * address). Refused requests get 403; a throwing or rejecting check counts as refused.
   * @default everyone who reaches the handler
   */
  readonly authorize?: (request: Request) => boolean | Promise<boolean>;
  /** Current time, ms. @default Date.now */
  readonly now?: () => number;
}

/** The status page handler. */
export interface StatusHandler {
  (request: Request): Promise<Response>;
  /** Stops observing the mailer (when the handler made its own collector). Idempotent. */
  close(): void;
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

function json(status: number, body: unknown, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS, ...extra } });
}

/**
 * Creates the live status page handler: queue per lane, per-domain rates and throttle states,
 * the transport's state, recent failures and campaign progress, polled every `refreshMs`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createStatusHandler, toNodeHandler } from 'mailpush/status';
 *
 * const status = createStatusHandler({ mailer, title: 'newsletter' });
 * createServer(toNodeHandler(status)).listen(8025, '127.0.0.1'); // open http://127.0.0.1:8025/
 * // Hono: app.get('/status', (c) => status(c.req.raw));
 * ```
 */
export function createStatusHandler(options: StatusHandlerOptions): StatusHandler {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const mailer = options.mailer;
  if (typeof mailer !== 'object' || mailer === null || typeof mailer.stats !== 'function' || typeof mailer.on !== 'function') throw configError('mailer', 'a Mailer', mailer);
  const title = options.title ?? 'mailpush';
  if (typeof title !== 'string' || title.length === 0 || title.length > 100) throw configError('title', 'a string of 1 to 100 characters', title);
  const refreshMs = options.refreshMs ?? 1000;
  if (typeof refreshMs !== 'number' || !Number.isInteger(refreshMs) || refreshMs < 250 || refreshMs > 60_000) throw configError('refreshMs', 'an integer from 250 to 60000', refreshMs);
  const authorize = options.authorize;
  if (authorize !== undefined && typeof authorize !== 'function') throw configError('authorize', 'a function', authorize);
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw configError('now', 'a function', now);
  let metrics = options.metrics;
  let unobserve: (() => void) | undefined;
  if (metrics === undefined) {
    metrics = createMetrics({ now });
    unobserve = metrics.observe(mailer);
  } else if (typeof metrics !== 'object' || metrics === null || typeof metrics.snapshot !== 'function' || metrics.mailer !== mailer) {
    throw configError('metrics', 'a collector observing this mailer (metrics.observe(mailer))', metrics);
  }
  const collector = metrics;
  const campaigns = new CampaignTracker(mailer, now);

  const allowed = async (request: Request): Promise<boolean> => {
    if (authorize === undefined) return true;
    try {
      return (await authorize(request)) === true;
    } catch {
      return false;
    }
  };

  const handler = async (request: Request): Promise<Response> => {
    try {
      if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { ok: false, error: 'Use GET' }, { allow: 'GET, HEAD' });
      if (!(await allowed(request))) return json(403, { ok: false, error: 'Not allowed' });
      let format: string | null = null;
      try {
        format = new URL(request.url).searchParams.get('format');
      } catch {
        // A relative or odd URL: the page.
      }
      const wantsJson = format === 'json' || (format === null && (request.headers.get('accept') ?? '').startsWith('application/json'));
      if (wantsJson) return json(200, buildView(title, mailer, collector, campaigns, now()));
      if (format !== null) return json(400, { ok: false, error: 'format must be json' });
      const nonce = randomBytes(16).toString('base64');
      const csp = `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
      return new Response(request.method === 'HEAD' ? null : renderPage(title, refreshMs, nonce), {
        status: 200,
        headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp, ...SECURITY_HEADERS },
      });
    } catch {
      return json(500, { ok: false, error: 'Internal error' });
    }
  };
  let closed = false;
  return Object.assign(handler, {
    close() {
      if (closed) return;
      closed = true;
      campaigns.close();
      unobserve?.();
    },
  });
}

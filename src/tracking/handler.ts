/**
 * The tracking endpoint: answers the open pixel and the click redirects, then reports the hits
 * as `opened` and `clicked` feedback events through the mailer's feedback processor (the same
 * stream and hooks as bounces: `mailer.on('feedback')`, `feedback.onEvent`) and counts them per
 * campaign.
 *
 * Answers, decided from the token alone (no store is read before answering):
 * - `GET|HEAD <base>/c/<token>`: 302 to the URL inside the verified token, with
 *   `Referrer-Policy: no-referrer` (the token is not leaked to the destination) and `no-store`;
 * - `GET|HEAD <base>/o/<token>`: 200 with a 1x1 transparent GIF and no-cache headers;
 * - a token that does not verify (tampered, truncated, another kind, unknown secret): 400 and a
 *   short text, never a redirect; another path: 404; another method: 405.
 *
 * The events are processed after the answer, in the background (a slow hook never delays a
 * redirect): machine-activity rules (machine.ts), then `mailer.feedback.ingest`, then the
 * campaign counters. Failures go to `onError` and `stats.failed`; `settled()` waits for the
 * work in progress (tests, graceful shutdown). At most `maxPending` hits wait; beyond that new
 * hits are answered and not reported (`stats.dropped`), so a flood cannot exhaust memory.
 *
 * Hits of one message are processed in order, one at a time, so unique counts hold within a
 * process; two processes sharing a store may both count the first hit of a recipient as unique
 * when both arrive within one store round trip (the replay store has no add-if-absent).
 *
 * Privacy: the client address is used to match machine rules and is not put into events
 * unless `includeIp` is set.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MailErrorCode, configError, toMailError } from '../errors.js';
import type { MailError } from '../errors.js';
import type { FeedbackEvent } from '../feedback/event.js';
import type { FeedbackProcessor } from '../feedback/processor.js';
import { BoundedMap } from '../queue/bounded-map.js';
import type { CampaignStore, CorrelationStore, ReplayStore } from '../types.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import { resolveTracking } from './config.js';
import type { TrackingConfig, TrackingOptions } from './config.js';
import { DEFAULT_MACHINE_RULES, compileMachineRules } from './machine.js';
import type { MachineRule, TrackingHit } from './machine.js';
import { openToken } from './token.js';
import type { TokenData } from './token.js';

/**
 * What the handler needs of a mailer (a `Mailer` from `createMailer` has all of it).
 *
 * @example
 * ```ts
 * const mailer: TrackingMailer = createMailer({ transport, tracking: { url: 'https://t.example.com/t', secrets: [secret] } });
 * ```
 */
export interface TrackingMailer {
  /** The feedback processor the events go through. */
  readonly feedback: FeedbackProcessor;
  /** The `tracking` option the mailer was created with. */
  readonly tracking?: TrackingOptions | undefined;
  /** The mailer's store: `correlation` tells when a message was sent, `replay` remembers unique hits, `campaigns` counts. */
  readonly store?: { readonly correlation?: CorrelationStore; readonly replay?: ReplayStore; readonly campaigns?: CampaignStore | undefined };
}

/**
 * A problem met while processing a hit (the answer was already given).
 *
 * @example
 * ```ts
 * createTrackingHandler({ mailer, onError: (e: TrackingHandlerError) => log.warn({ kind: e.kind, code: e.error.code }, e.error.message) });
 * ```
 */
export interface TrackingHandlerError {
  readonly kind: 'open' | 'click';
  readonly error: MailError;
}

/**
 * Counters of a {@link TrackingHandler}, since it was created.
 *
 * @example
 * ```ts
 * const { clicks, machine, invalid }: TrackingHandlerStats = handler.stats;
 * ```
 */
export interface TrackingHandlerStats {
  /** Requests answered. */
  readonly requests: number;
  /** Opens and clicks with a valid token. */
  readonly opens: number;
  readonly clicks: number;
  /** Of those, flagged as machine activity. */
  readonly machine: number;
  /** Requests with a token that did not verify (answered 400). */
  readonly invalid: number;
  /** Hits not reported because `maxPending` hits were already waiting. */
  readonly dropped: number;
  /** Hits whose processing failed (see `onError`). */
  readonly failed: number;
}

/**
 * Options of {@link createTrackingHandler}.
 *
 * @example
 * ```ts
 * const options: TrackingHandlerOptions = { mailer, trustProxy: true, scanWindowMs: 5_000, machineRules: [...DEFAULT_MACHINE_RULES, { id: 'corp-gateway', applies: 'click', ipRanges: ['198.51.100.0/24'] }] };
 * ```
 */
export interface TrackingHandlerOptions {
  /** The mailer whose `tracking` option signed the links. */
  readonly mailer: TrackingMailer;
  /** Machine-activity rules, in order. @default DEFAULT_MACHINE_RULES */
  readonly machineRules?: readonly MachineRule[];
  /** A hit within this many ms of the moment the message was handed to the transport is a scanner's (`soon-after-delivery`); 0 turns it off. @default 3_000 */
  readonly scanWindowMs?: number;
  /** A click on another link of the same message within this many ms of the previous click is a scanner's (`link-burst`); 0 turns it off. @default 2_000 */
  readonly burstWindowMs?: number;
  /** How long a recipient's open or click is remembered to count unique hits, ms. @default 7_776_000_000 (90 days) */
  readonly uniqueWindowMs?: number;
  /** The client address of a Fetch request (from a header your proxy sets, or your runtime's API). @default none */
  readonly clientIp?: (request: Request) => string | undefined;
  /** For the Node adapter: take the client address from the first `X-Forwarded-For` entry (only behind a proxy you trust). @default false */
  readonly trustProxy?: boolean;
  /** Put the client address into events (`event.ip`). It is personal data. @default false */
  readonly includeIp?: boolean;
  /** Per-campaign counters. @default the mailer store's `campaigns`; none when it has none */
  readonly campaigns?: CampaignStore;
  /** Most hits waiting to be processed. @default 10_000 */
  readonly maxPending?: number;
  /** Told about every hit whose processing failed. */
  readonly onError?: (error: TrackingHandlerError) => void;
  /** Current time, ms. @default Date.now */
  readonly now?: () => number;
}

/**
 * The handler: a Fetch API function, with a Node adapter, counters and `settled()`.
 *
 * @example
 * ```ts
 * const handler: TrackingHandler = createTrackingHandler({ mailer });
 * app.get('/t/*', (c) => handler(c.req.raw)); // Hono
 * createServer(handler.node).listen(8080); // node:http
 * process.on('SIGTERM', async () => { await handler.settled(); await mailer.close(); });
 * ```
 */
export interface TrackingHandler {
  /** Answers one request (never rejects). */
  (request: Request): Promise<Response>;
  /** The same handler for node:http, Express and Fastify's `reply.raw`: `createServer(handler.node)`. */
  readonly node: (req: IncomingMessage, res: ServerResponse) => void;
  /** Resolves once every hit received so far is processed. */
  settled(): Promise<void>;
  /** Counters since creation. */
  readonly stats: TrackingHandlerStats;
}

/**
 * Campaign counters written for tracked hits. `opened` and `clicked` count recipients (unique),
 * the `.total` ones every hit; `.machine` ones count machine activity apart.
 *
 * @example
 * ```ts
 * const counts = (await mailer.store.campaigns?.get('spring'))?.counts ?? {};
 * const humanOpenRate = (counts[TRACKING_COUNTERS.open.human] ?? 0) / (counts.sent ?? 1);
 * ```
 */
export const TRACKING_COUNTERS = Object.freeze({
  open: { human: 'opened', humanTotal: 'opened.total', machine: 'opened.machine', machineTotal: 'opened.machine.total' },
  click: { human: 'clicked', humanTotal: 'clicked.total', machine: 'clicked.machine', machineTotal: 'clicked.machine.total' },
} as const);

/**
 * The 1x1 transparent GIF answered for the pixel (43 bytes).
 *
 * @example
 * ```ts
 * res.writeHead(200, { 'content-type': 'image/gif' }).end(PIXEL_GIF); // your own pixel route
 * ```
 */
export const PIXEL_GIF: Uint8Array = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

/** The handler's own copy: a caller changing the exported bytes cannot change the answers. */
const GIF: Uint8Array = Buffer.from(PIXEL_GIF);

const PIXEL_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'image/gif',
  'content-length': String(PIXEL_GIF.byteLength),
  'cache-control': 'no-store, no-cache, must-revalidate, private, max-age=0',
  pragma: 'no-cache',
  expires: '0',
});
const TEXT = 'text/plain; charset=utf-8';
const HANDLER_KEYS = knownKeys(['mailer', 'machineRules', 'scanWindowMs', 'burstWindowMs', 'uniqueWindowMs', 'clientIp', 'trustProxy', 'includeIp', 'campaigns', 'maxPending', 'onError', 'now']);

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array | string;
}

const answers = {
  invalid: (): Answer => ({ status: 400, headers: { 'content-type': TEXT, 'cache-control': 'no-store' }, body: 'This link is not valid.\n' }),
  notFound: (): Answer => ({ status: 404, headers: { 'content-type': TEXT, 'cache-control': 'no-store' }, body: 'Not found.\n' }),
  method: (): Answer => ({ status: 405, headers: { 'content-type': TEXT, allow: 'GET, HEAD', 'cache-control': 'no-store' }, body: 'Use GET.\n' }),
};

/**
 * Creates the tracking handler of a mailer.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createTrackingHandler } from 'mailpush/tracking';
 *
 * const mailer = createMailer({ transport, tracking: { url: 'https://t.example.com/t', secrets: [secret] } });
 * const handler = createTrackingHandler({ mailer });
 * createServer(handler.node).listen(8080); // or Hono: app.get('/t/*', (c) => handler(c.req.raw))
 * mailer.on('feedback', (e) => {
 *   if (e.type === 'clicked' && !e.machineClick) console.log(e.recipient, 'clicked', e.url);
 * });
 * ```
 */
export function createTrackingHandler(options: TrackingHandlerOptions): TrackingHandler {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object { mailer }', options);
  rejectUnknownKeys(options, HANDLER_KEYS, 'tracking handler option', MailErrorCode.CONFIG);
  const mailer = options.mailer;
  if (typeof mailer !== 'object' || mailer === null || typeof mailer.feedback?.ingest !== 'function') throw configError('mailer', 'a mailer (createMailer())', mailer);
  if (mailer.tracking === undefined) throw configError('mailer.tracking', 'set: create the mailer with `tracking: { url, secrets }`', mailer.tracking);
  const config: TrackingConfig = resolveTracking(mailer.tracking);
  const matcher = compileMachineRules(options.machineRules ?? DEFAULT_MACHINE_RULES);
  const ms = (name: string, value: unknown, dflt: number): number => {
    if (value === undefined) return dflt;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw configError(name, 'a finite number >= 0 (ms)', value);
    return value;
  };
  const scanWindowMs = ms('scanWindowMs', options.scanWindowMs, 3_000);
  const burstWindowMs = ms('burstWindowMs', options.burstWindowMs, 2_000);
  const uniqueWindowMs = ms('uniqueWindowMs', options.uniqueWindowMs, 90 * 86_400_000);
  const maxPending = options.maxPending ?? 10_000;
  if (!Number.isInteger(maxPending) || maxPending < 1) throw configError('maxPending', 'an integer >= 1', maxPending);
  for (const k of ['clientIp', 'onError', 'now'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'function') throw configError(k, 'a function', options[k]);
  }
  const now = options.now ?? Date.now;
  const campaigns = options.campaigns ?? mailer.store?.campaigns;
  const correlation = mailer.store?.correlation;
  const replay = mailer.store?.replay;
  const includeIp = options.includeIp === true;
  const trustProxy = options.trustProxy === true;

  const stats = { requests: 0, opens: 0, clicks: 0, machine: 0, invalid: 0, dropped: 0, failed: 0 };
  let pending = 0;
  let idle: (() => void)[] = [];
  /** The hit of each message processed last (or being processed): the next one waits for it. */
  const chains = new Map<string, Promise<void>>();
  /** Last click per message (id -> time and link), for `link-burst`; bounded, oldest dropped first. */
  // The last click per message, in order of clicks: the message clicked longest ago is forgotten first.
  const lastClick = new BoundedMap<string, { at: number; link: number }>(50_000, 'lru');

  const answer = (method: string, pathname: string, hit: Omit<TrackingHit, 'kind' | 'method'>): Answer => {
    stats.requests++;
    const slash = pathname.lastIndexOf('/');
    const kindChar = slash >= 2 && pathname.charCodeAt(slash - 2) === 47 ? pathname[slash - 1] : undefined;
    if (kindChar !== 'c' && kindChar !== 'o') return answers.notFound();
    if (method !== 'GET' && method !== 'HEAD') return answers.method();
    const kind = kindChar === 'c' ? 'click' : 'open';
    const data = openToken(config.keys, kind, pathname.slice(slash + 1));
    let location: string | undefined;
    if (data !== undefined && kind === 'click') {
      try {
        const u = new URL(data.url!);
        if (u.protocol === 'https:' || u.protocol === 'http:') location = u.href;
      } catch {
        // Signed by us, so this cannot happen short of a bug; answered as invalid, never redirected.
      }
    }
    if (data === undefined || (kind === 'click' && location === undefined)) {
      stats.invalid++;
      return answers.invalid();
    }
    if (kind === 'open') stats.opens++;
    else stats.clicks++;
    enqueue({ kind, method, userAgent: hit.userAgent, ip: hit.ip }, data);
    if (kind === 'open') return { status: 200, headers: { ...PIXEL_HEADERS }, body: GIF };
    return { status: 302, headers: { location: location!, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'content-length': '0' }, body: '' };
  };

  const enqueue = (hit: TrackingHit, data: TokenData): void => {
    if (pending >= maxPending) {
      stats.dropped++;
      return;
    }
    pending++;
    const at = now();
    // Hits of one message are processed one after the other (a scanner fetches every link at
    // once): unique counts and link bursts see the earlier hits.
    const before = chains.get(data.id);
    const run = (): Promise<void> =>
      processHit(hit, data, at)
        .catch((err: unknown) => {
          stats.failed++;
          if (options.onError !== undefined) {
            try {
              options.onError({ kind: hit.kind, error: toMailError(err, MailErrorCode.STORE) });
            } catch {
              // A logging hook must not break the handler.
            }
          }
        })
        .finally(() => {
          if (chains.get(data.id) === done) chains.delete(data.id);
          pending--;
          if (pending === 0) {
            const waiting = idle;
            idle = [];
            for (const w of waiting) w();
          }
        });
    const done: Promise<void> = before === undefined ? new Promise<void>((resolve) => setImmediate(() => void run().then(resolve))) : before.then(run);
    chains.set(data.id, done);
  };

  const machineRule = async (hit: TrackingHit, data: TokenData, at: number): Promise<string | undefined> => {
    const byTable = matcher.match(hit);
    let burst: string | undefined;
    if (hit.kind === 'click' && burstWindowMs > 0) {
      const prev = lastClick.peek(data.id);
      if (prev !== undefined && prev.link !== data.link && at - prev.at <= burstWindowMs) burst = 'link-burst';
      lastClick.set(data.id, { at, link: data.link ?? 0 });
    }
    if (byTable !== undefined) return byTable;
    if (burst !== undefined) return burst;
    if (scanWindowMs > 0 && correlation !== undefined) {
      // One recipient per tracked message, hence one job: `<id>/0`.
      const sent = await correlation.find(`${data.id}/0`);
      if (sent !== undefined && at >= sent.sentAt && at - sent.sentAt <= scanWindowMs) return 'soon-after-delivery';
    }
    return undefined;
  };

  const processHit = async (hit: TrackingHit, data: TokenData, at: number): Promise<void> => {
    const rule = await machineRule(hit, data, at);
    if (rule !== undefined) stats.machine++;
    const event: Record<string, unknown> = {
      type: hit.kind === 'open' ? 'opened' : 'clicked',
      recipient: data.recipient,
      provider: 'tracking',
      timestamp: at,
      eventId: `trk_${randomUUID()}`,
      messageId: data.messageId,
      jobId: `${data.id}/0`,
      raw: { kind: hit.kind, method: hit.method, issuedAt: data.issuedAt, ...(data.link !== undefined ? { link: data.link } : {}) },
    };
    if (data.campaign !== undefined) event.campaign = data.campaign;
    if (hit.kind === 'click') {
      event.url = data.url;
      event.machineClick = rule !== undefined;
    } else {
      event.machineOpen = rule !== undefined;
    }
    if (rule !== undefined) event.machineRule = rule;
    if (hit.userAgent !== undefined) event.userAgent = hit.userAgent.slice(0, 512);
    if (includeIp && hit.ip !== undefined) event.ip = hit.ip;
    await mailer.feedback.ingest([event as unknown as FeedbackEvent]);
    if (data.campaign !== undefined && campaigns !== undefined) await count(data, hit.kind, rule !== undefined, at);
  };

  const count = async (data: TokenData, kind: 'open' | 'click', machine: boolean, at: number): Promise<void> => {
    const names = TRACKING_COUNTERS[kind];
    let unique = true;
    if (replay !== undefined) {
      // Not atomic: two first hits at the same moment may both count as unique.
      const key = `mailpush:trk:${kind}:${machine ? 'm' : 'h'}:${data.id}`;
      unique = !(await replay.has(key, at));
      if (unique) await replay.add(key, at + uniqueWindowMs);
    }
    const counts: Record<string, number> = machine ? { [names.machineTotal]: 1 } : { [names.humanTotal]: 1 };
    if (unique) counts[machine ? names.machine : names.human] = 1;
    await campaigns!.increment(data.campaign!, counts, at);
  };

  const handler = async (request: Request): Promise<Response> => {
    try {
      let pathname: string;
      try {
        pathname = new URL(request.url).pathname;
      } catch {
        pathname = '/';
      }
      const ip = options.clientIp?.(request);
      const a = answer(request.method.toUpperCase(), pathname, { userAgent: request.headers.get('user-agent') ?? undefined, ip });
      return new Response(request.method === 'HEAD' || a.body === '' ? null : a.body, { status: a.status, headers: a.headers });
    } catch {
      return new Response('Internal error.\n', { status: 500, headers: { 'content-type': TEXT } });
    }
  };

  const node = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const pathname = q === -1 ? url : url.slice(0, q);
      let ip = req.socket?.remoteAddress;
      if (trustProxy) {
        const xff = req.headers['x-forwarded-for'];
        const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
        if (first) ip = first;
      }
      const method = (req.method ?? 'GET').toUpperCase();
      const a = answer(method, pathname, { userAgent: req.headers['user-agent'], ip });
      res.writeHead(a.status, a.headers);
      res.end(method === 'HEAD' ? undefined : a.body);
      // A request body (there should be none) is drained so keep-alive connections go on.
      if (!req.complete) req.resume();
    } catch {
      try {
        if (!res.headersSent) res.writeHead(500, { 'content-type': TEXT });
        res.end('Internal error.\n');
      } catch {
        res.destroy();
      }
    }
  };

  return Object.assign(handler, {
    node,
    settled: (): Promise<void> => (pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => idle.push(resolve))),
    stats: stats as TrackingHandlerStats,
  });
}

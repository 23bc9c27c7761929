/**
 * The node:http adapter of the Fetch API handlers (feedback webhooks, unsubscribe): a
 * `(request: Request) => Promise<Response>` served by `createServer`, Express or Fastify.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { configError } from '../errors.js';
import { readNodeBody } from './body.js';

/** Largest body read when neither the options nor the handler say: 2 MiB. */
export const DEFAULT_NODE_MAX_BODY_BYTES = 2 * 1024 * 1024;

/**
 * A Node request as frameworks hand it over: when a body parser already read the body, the
 * raw bytes must be available as `rawBody` (or as a Buffer `body`, as `express.raw()` leaves it).
 */
export type NodeRequest = IncomingMessage & { rawBody?: unknown; body?: unknown; originalUrl?: string };

/** Options of {@link toNodeHandler}. */
export interface NodeHandlerOptions {
  /** Largest body read. @default the handler's `maxBodyBytes`, else 2_097_152 */
  readonly maxBodyBytes?: number;
}

/**
 * Adapts a Fetch API handler to node:http's `(req, res)`. Reads the body itself, or takes the
 * bytes a framework already read:
 * - node:http: `createServer(toNodeHandler(handler))`;
 * - Express: `app.post('/webhooks/:provider', express.raw({ type: '*\/*', limit: '2mb' }), toNodeHandler(handler))`
 *   (a JSON body parser in front of it would destroy the signed bytes: the adapter then answers 500);
 * - Fastify: `fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_r, body, done) => done(null, body))`, then in
 *   the route `reply.hijack(); node(Object.assign(request.raw, { rawBody: request.body }), reply.raw)`;
 * - Hono and other Fetch runtimes: use the handler directly, `(c) => handler(c.req.raw)`.
 *
 * The returned function never throws; it answers 500 if anything unexpected happens.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createFeedbackHandler, toNodeHandler } from 'mailpush/feedback';
 *
 * const handler = createFeedbackHandler({ processor: mailer.feedback, ses: { topicArns: ['arn:aws:sns:us-east-1:123456789012:ses-feedback'] } });
 * createServer(toNodeHandler(handler)).listen(8080); // SNS posts to http://host:8080/ses
 * ```
 */
export function toNodeHandler(handler: (request: Request) => Promise<Response>, options: NodeHandlerOptions = {}): (req: NodeRequest, res: ServerResponse) => void {
  if (typeof handler !== 'function') throw configError('handler', 'a function (request: Request) => Promise<Response>', handler);
  const max = options.maxBodyBytes ?? (handler as { maxBodyBytes?: unknown }).maxBodyBytes ?? DEFAULT_NODE_MAX_BODY_BYTES;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) throw configError('maxBodyBytes', 'a positive integer', max);

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
    res.end(body);
  };

  const run = async (req: NodeRequest, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    let body: Uint8Array | undefined;
    const pre = req.rawBody ?? (Buffer.isBuffer(req.body) || typeof req.body === 'string' ? req.body : undefined);
    if (pre instanceof Uint8Array) body = pre;
    else if (typeof pre === 'string') body = Buffer.from(pre, 'utf8');
    else if (method !== 'GET' && method !== 'HEAD') {
      if ((req.body !== undefined && req.body !== null) || req.readableEnded) {
        // A body parser consumed the stream and kept only a parsed form: the signed bytes are gone.
        send(res, 500, JSON.stringify({ ok: false, error: 'The request body was already consumed by a body parser; give the raw bytes (express.raw(), req.rawBody)' }));
        return;
      }
      const read = await readNodeBody(req, max);
      if (read === undefined) {
        send(res, 413, JSON.stringify({ ok: false, error: `Body over ${max} bytes` }), { connection: 'close' });
        return;
      }
      body = read;
    }
    if (body !== undefined && body.byteLength > max) {
      send(res, 413, JSON.stringify({ ok: false, error: `Body over ${max} bytes` }));
      return;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name.startsWith(':')) continue;
      try {
        if (Array.isArray(value)) for (const v of value) headers.append(name, v);
        else headers.set(name, value);
      } catch {
        // A header value fetch refuses (control characters) is dropped, not fatal.
      }
    }
    const path = typeof req.originalUrl === 'string' ? req.originalUrl : (req.url ?? '/');
    let url: URL;
    try {
      url = new URL(path.startsWith('/') ? path : `/${path}`, 'http://localhost');
    } catch {
      url = new URL('http://localhost/');
    }
    const init: RequestInit = { method, headers };
    if (body !== undefined && method !== 'GET' && method !== 'HEAD') init.body = body;
    const response = await handler(new Request(url, init));
    const out: Record<string, string> = {};
    response.headers.forEach((v, k) => {
      out[k] = v;
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(response.status, out);
    res.end(bytes);
  };

  return (req, res) => {
    run(req, res).catch(() => {
      try {
        send(res, 500, JSON.stringify({ ok: false, error: 'Internal error' }));
      } catch {
        res.destroy();
      }
    });
  };
}

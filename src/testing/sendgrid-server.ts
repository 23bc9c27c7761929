/**
 * A local stand-in for SendGrid's v3 API, for tests, examples and benchmarks: it speaks
 * `POST /v3/mail/send` (Bearer key check, JSON body checks with SendGrid's error shape,
 * 202 with an `X-Message-Id`) and `GET /v3/scopes`, keeps what it accepts, and fails on
 * demand (429 with rate-limit headers, 5xx, 400, 401, dropped connections, latency).
 *
 * It checks what SendGrid documents as required and refused, not everything SendGrid checks:
 * a request it accepts can still be refused by SendGrid for reasons it cannot know (an
 * unverified sender identity, account state, suppression lists).
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CountWaiters, Connections, listenOn } from './fake-server.js';
import { configError } from '../errors.js';
import type { SendGridMailBody } from '../transports/sendgrid.js';

/** Options of {@link startSendGridServer}. */
export interface SendGridServerOptions {
  /** The API key requests must carry as `Authorization: Bearer <key>`. @default 'SG.mailpush-test-key' */
  readonly apiKey?: string;
  /** Port to listen on (always on 127.0.0.1); 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Largest request body accepted, in bytes; larger ones get 413 (SendGrid's limit is 30 MB). @default 31_457_280 */
  readonly maxBodyBytes?: number;
  /** Scopes `GET /v3/scopes` reports for the key. @default ['mail.send'] */
  readonly scopes?: readonly string[];
  /** Keep every accepted request in {@link SendGridServer.requests}; with false only the counts move. @default true */
  readonly record?: boolean;
}

/** A mail/send request the server accepted. */
export interface SendGridRequest {
  /** The parsed JSON body. */
  readonly body: SendGridMailBody;
  /** Request headers, names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  /** When it was accepted, ms since epoch. */
  readonly receivedAt: number;
  /** The `X-Message-Id` it was answered with. */
  readonly messageId: string;
}

/** One entry of SendGrid's `errors` array. */
export interface SendGridApiError {
  readonly message: string;
  readonly field: string | null;
  readonly help: string | null;
}

/**
 * Built-in faults: `rate-limit` (429 with `X-RateLimit-*` headers, reset at the next whole
 * second), `server-error` (500), `bad-request` (400, invalid from address), `unauthorized`
 * (401), `forbidden` (403, unverified sender identity), `payload-too-large` (413),
 * `disconnect` (the connection is dropped without an answer).
 */
export type SendGridFaultPreset = 'rate-limit' | 'server-error' | 'bad-request' | 'unauthorized' | 'forbidden' | 'payload-too-large' | 'disconnect';

/** A scripted answer of your own. */
export interface SendGridFaultResponse {
  /** HTTP status, 100-599. */
  readonly status: number;
  /** Body: a string is sent as is (malformed JSON included), anything else as JSON. @default none */
  readonly body?: unknown;
  /** Extra response headers. @default none */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A fault: a preset or an answer of your own. */
export type SendGridFault = SendGridFaultPreset | SendGridFaultResponse;

/** A running fake SendGrid API. */
export interface SendGridServer {
  /** `http://127.0.0.1:<port>`: pass as the transport's `baseUrl`. */
  readonly baseUrl: string;
  /** The key it expects. */
  readonly apiKey: string;
  /** Accepted mail/send requests, in order (empty with `record: false`). */
  readonly requests: readonly SendGridRequest[];
  /** Number of mail/send requests accepted. */
  readonly count: number;
  /** Number of mail/send requests received, accepted or not. */
  readonly attempts: number;
  /** Answers the next `count` mail/send requests with `fault`, before any other check but the body read. @default count 1, fault 'server-error' */
  failNext(count?: number, fault?: SendGridFault): this;
  /** Delays every answer by `ms` milliseconds. @default 0 */
  setLatency(ms: number): this;
  /** Resolves once `count` requests were accepted in total; rejects with `TIMEOUT` after `timeoutMs`, `CLOSED` when the server closes. @default timeoutMs 5000 */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  /** Forgets requests, counts, faults and latency. */
  reset(): void;
  /** Stops listening and drops open connections. Idempotent. */
  close(): Promise<void>;
}

const HELP = 'http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html';
const MAX_RECIPIENTS = 1000;
const MAX_CUSTOM_ARGS_BYTES = 10_000;
const RESERVED_HEADERS = new Set(['x-sg-id', 'x-sg-eid', 'received', 'dkim-signature', 'content-type', 'content-transfer-encoding', 'to', 'from', 'subject', 'reply-to', 'cc', 'bcc']);
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const PRESETS: ReadonlySet<string> = new Set(['rate-limit', 'server-error', 'bad-request', 'unauthorized', 'forbidden', 'payload-too-large', 'disconnect']);

const apiError = (message: string, field: string | null, help: string | null = null): SendGridApiError => ({ message, field, help });

interface Answer {
  readonly status: number;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

function errorsAnswer(status: number, errors: readonly SendGridApiError[], headers?: Record<string, string>): Answer {
  return { status, body: JSON.stringify({ errors }), ...(headers !== undefined ? { headers } : {}) };
}

function presetAnswer(preset: Exclude<SendGridFaultPreset, 'disconnect'>): Answer {
  switch (preset) {
    case 'rate-limit':
      return errorsAnswer(429, [apiError('too many requests', null)], {
        'x-ratelimit-limit': '600',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 1),
      });
    case 'server-error':
      return errorsAnswer(500, [apiError('Internal server error', null)]);
    case 'bad-request':
      return errorsAnswer(400, [apiError('The from email does not contain a valid address.', 'from.email', `${HELP}#message.from`)]);
    case 'unauthorized':
      return errorsAnswer(401, [apiError('The provided authorization grant is invalid, expired, or revoked', null)]);
    case 'forbidden':
      return errorsAnswer(403, [
        apiError('The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved.', 'from', 'https://sendgrid.com/docs/for-developers/sending-email/sender-identity/'),
      ]);
    case 'payload-too-large':
      return errorsAnswer(413, [apiError('Payload Too Large', null)]);
  }
}

function checkFault(fault: unknown): SendGridFault {
  if (typeof fault === 'string') {
    if (!PRESETS.has(fault)) throw configError('fault', `one of ${[...PRESETS].join(', ')} or { status, body?, headers? }`, fault);
    return fault as SendGridFaultPreset;
  }
  if (typeof fault !== 'object' || fault === null) throw configError('fault', 'a preset name or { status, body?, headers? }', fault);
  const f = fault as SendGridFaultResponse;
  if (!(Number.isInteger(f.status) && f.status >= 100 && f.status <= 599)) throw configError('fault.status', 'an integer from 100 to 599', f.status);
  if (f.headers !== undefined) {
    if (typeof f.headers !== 'object' || f.headers === null) throw configError('fault.headers', 'an object of strings', f.headers);
    for (const [k, v] of Object.entries(f.headers)) {
      if (typeof v !== 'string' || /[\r\n]/.test(v) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw configError(`fault.headers.${k}`, 'a header value without line breaks', v);
    }
  }
  if (f.body !== undefined && typeof f.body !== 'string') {
    try {
      JSON.stringify(f.body);
    } catch {
      throw configError('fault.body', 'a string or a JSON-serializable value', f.body);
    }
  }
  return f;
}

function faultAnswer(fault: Exclude<SendGridFault, 'disconnect'>): Answer {
  if (typeof fault === 'string') return presetAnswer(fault);
  const body = fault.body === undefined ? undefined : typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body);
  return { status: fault.status, ...(body !== undefined ? { body } : {}), ...(fault.headers !== undefined ? { headers: fault.headers } : {}) };
}

// ---------------------------------------------------------------------------------------
// Body checks, with SendGrid's wording where known
// ---------------------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkEmail(value: unknown, field: string, errors: SendGridApiError[]): string | undefined {
  if (!isObject(value) || typeof value['email'] !== 'string' || !EMAIL.test(value['email'])) {
    errors.push(apiError('Does not contain a valid address.', field, `${HELP}#message.personalizations.to`));
    return undefined;
  }
  if (value['name'] !== undefined && typeof value['name'] !== 'string') errors.push(apiError('The name must be a string.', `${field}.name`));
  return value['email'];
}

function checkStringMap(value: unknown, field: string, errors: SendGridApiError[]): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    errors.push(apiError(`The ${field} parameter must be an object with string values.`, field, `${HELP}#message.${field}`));
    return undefined;
  }
  return value;
}

function checkHeaders(value: unknown, field: string, errors: SendGridApiError[]): void {
  const headers = checkStringMap(value, field, errors);
  if (headers === undefined) return;
  for (const name of Object.keys(headers)) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) errors.push(apiError(`The header ${name} is reserved and cannot be set.`, `${field}.${name}`, `${HELP}#message.headers`));
  }
}

function checkPersonalizations(value: unknown, errors: SendGridApiError[]): { subjects: boolean; customArgsBytes: number } {
  if (!Array.isArray(value) || value.length === 0) {
    errors.push(apiError('The personalizations field is required and must have at least one personalization.', 'personalizations', `${HELP}#-Personalizations-Errors`));
    return { subjects: false, customArgsBytes: 0 };
  }
  let total = 0;
  let subjects = true;
  let customArgsBytes = 0;
  value.forEach((p: unknown, i: number) => {
    const base = `personalizations.${i}`;
    if (!isObject(p)) {
      errors.push(apiError('A personalization must be an object.', base));
      subjects = false;
      return;
    }
    if (typeof p['subject'] !== 'string' || p['subject'] === '') subjects = false;
    const seen = new Set<string>();
    for (const list of ['to', 'cc', 'bcc'] as const) {
      const entries = p[list];
      if (entries === undefined && list !== 'to') continue;
      if (!Array.isArray(entries) || (list === 'to' && entries.length === 0)) {
        errors.push(
          list === 'to'
            ? apiError('The to array is required for all personalization objects, and must have at least one email object with a valid email address.', `${base}.to`, `${HELP}#message.personalizations.to`)
            : apiError(`The ${list} field must be an array.`, `${base}.${list}`),
        );
        continue;
      }
      entries.forEach((e: unknown, j: number) => {
        const email = checkEmail(e, `${base}.${list}.${j}.email`, errors);
        if (email === undefined) return;
        total++;
        const key = email.toLowerCase();
        if (seen.has(key)) {
          errors.push(
            apiError(
              `Each email address in the personalization block should be unique between to, cc, and bcc. We found the first duplicate instance of [${email}] in the ${base}.${list} field.`,
              `${base}.${list}`,
              `${HELP}#message.recipient_errors`,
            ),
          );
        }
        seen.add(key);
      });
    }
    checkHeaders(p['headers'], `${base}.headers`, errors);
    const args = checkStringMap(p['custom_args'], `${base}.custom_args`, errors);
    if (args !== undefined) customArgsBytes += Buffer.byteLength(JSON.stringify(args));
  });
  if (total > MAX_RECIPIENTS) {
    errors.push(apiError(`The total number of recipients must be no more than ${MAX_RECIPIENTS}.`, 'personalizations', `${HELP}#message.personalizations`));
  }
  return { subjects, customArgsBytes };
}

function checkContent(value: unknown, errors: SendGridApiError[]): void {
  if (!Array.isArray(value) || value.length === 0) {
    errors.push(
      apiError(
        'Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.',
        'content',
        `${HELP}#message.content`,
      ),
    );
    return;
  }
  value.forEach((c: unknown, i: number) => {
    if (!isObject(c) || typeof c['type'] !== 'string' || c['type'] === '' || /[\r\n]/.test(c['type'])) {
      errors.push(apiError('The content type must be a string at least one character in length.', `content.${i}.type`, `${HELP}#message.content.type`));
      return;
    }
    if (typeof c['value'] !== 'string' || c['value'] === '') {
      errors.push(apiError('The content value must be a string at least one character in length.', `content.${i}.value`, `${HELP}#message.content.value`));
    }
    if (c['type'] === 'text/plain' && i !== 0) {
      errors.push(apiError('If present, text/plain content must be first, followed by text/html, followed by any other content.', `content.${i}.type`, `${HELP}#message.content.type`));
    }
  });
}

function checkAttachments(value: unknown, errors: SendGridApiError[]): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) {
    errors.push(apiError('The attachments field must be an array.', 'attachments'));
    return;
  }
  value.forEach((a: unknown, i: number) => {
    const base = `attachments.${i}`;
    if (!isObject(a)) {
      errors.push(apiError('An attachment must be an object.', base));
      return;
    }
    const content = a['content'];
    if (typeof content !== 'string' || content === '') errors.push(apiError('The attachment content is required.', `${base}.content`, `${HELP}#message.attachments.content`));
    else if (content.length % 4 !== 0 || !BASE64.test(content)) errors.push(apiError('The attachment content must be base64 encoded.', `${base}.content`, `${HELP}#message.attachments.content`));
    if (typeof a['filename'] !== 'string' || a['filename'] === '') errors.push(apiError('The attachment filename is required.', `${base}.filename`, `${HELP}#message.attachments.filename`));
    const disposition = a['disposition'];
    if (disposition !== undefined && disposition !== 'attachment' && disposition !== 'inline') {
      errors.push(apiError('The disposition of your attachment can be either "inline" or "attachment".', `${base}.disposition`, `${HELP}#message.attachments.disposition`));
    }
    if (disposition === 'inline' && (typeof a['content_id'] !== 'string' || a['content_id'] === '')) {
      errors.push(apiError('The content_id parameter is required if your attachment is inline.', `${base}.content_id`, `${HELP}#message.attachments.content_id`));
    }
  });
}

/** Checks a mail/send body the way SendGrid documents it; returns SendGrid-shaped errors. */
function checkMailBody(body: unknown): SendGridApiError[] {
  const errors: SendGridApiError[] = [];
  if (!isObject(body)) return [apiError('The request body must be a JSON object.', null)];
  const { subjects, customArgsBytes } = checkPersonalizations(body['personalizations'], errors);
  if (!isObject(body['from'])) {
    errors.push(apiError('The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.', 'from', `${HELP}#message.from`));
  } else if (typeof body['from']['email'] !== 'string' || !EMAIL.test(body['from']['email'])) {
    errors.push(apiError('The from email does not contain a valid address.', 'from.email', `${HELP}#message.from`));
  }
  const template = typeof body['template_id'] === 'string' && body['template_id'] !== '';
  const subject = body['subject'];
  if (subject !== undefined && typeof subject !== 'string') errors.push(apiError('The subject must be a string.', 'subject', `${HELP}#message.subject`));
  if (!template && !subjects && (typeof subject !== 'string' || subject === '')) {
    errors.push(
      apiError('The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.', 'subject', `${HELP}#message.subject`),
    );
  }
  if (!template || body['content'] !== undefined) checkContent(body['content'], errors);
  if (body['reply_to'] !== undefined && body['reply_to_list'] !== undefined) {
    errors.push(apiError('The reply_to and reply_to_list fields cannot be used together.', 'reply_to_list', `${HELP}#message.reply_to_list`));
  }
  if (body['reply_to'] !== undefined) checkEmail(body['reply_to'], 'reply_to.email', errors);
  if (body['reply_to_list'] !== undefined) {
    if (!Array.isArray(body['reply_to_list'])) errors.push(apiError('The reply_to_list field must be an array.', 'reply_to_list'));
    else body['reply_to_list'].forEach((e: unknown, i: number) => checkEmail(e, `reply_to_list.${i}.email`, errors));
  }
  checkAttachments(body['attachments'], errors);
  checkHeaders(body['headers'], 'headers', errors);
  const categories = body['categories'];
  if (categories !== undefined) {
    if (!Array.isArray(categories) || categories.some((c) => typeof c !== 'string')) errors.push(apiError('The categories field must be an array of strings.', 'categories', `${HELP}#message.categories`));
    else {
      if (categories.length > 10) errors.push(apiError('You may not have more than 10 categories per request.', 'categories', `${HELP}#message.categories`));
      if (categories.some((c: string) => c.length > 255)) errors.push(apiError('A category cannot be more than 255 characters.', 'categories', `${HELP}#message.categories`));
    }
  }
  const args = checkStringMap(body['custom_args'], 'custom_args', errors);
  const argsBytes = customArgsBytes + (args === undefined ? 0 : Buffer.byteLength(JSON.stringify(args)));
  if (argsBytes > MAX_CUSTOM_ARGS_BYTES) {
    errors.push(apiError(`The total size of your custom_args may not exceed ${MAX_CUSTOM_ARGS_BYTES} bytes.`, 'custom_args', `${HELP}#message.custom_args`));
  }
  if (body['send_at'] !== undefined && !Number.isInteger(body['send_at'])) errors.push(apiError('The send_at parameter must be a unix timestamp.', 'send_at', `${HELP}#message.send_at`));
  return errors;
}

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

function checkOptions(options: unknown): SendGridServerOptions {
  if (options === undefined) return {};
  if (!isObject(options)) throw configError('options', 'an object', options);
  const o = options as SendGridServerOptions;
  if (o.apiKey !== undefined && (typeof o.apiKey !== 'string' || !/^[\x21-\x7e]{1,1024}$/.test(o.apiKey))) {
    throw configError('apiKey', 'a non-empty string of printable ASCII without spaces', o.apiKey);
  }
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port >= 0 && o.port <= 65535)) throw configError('port', 'an integer from 0 to 65535', o.port);
  if (o.maxBodyBytes !== undefined && !(Number.isSafeInteger(o.maxBodyBytes) && o.maxBodyBytes > 0)) throw configError('maxBodyBytes', 'a positive integer', o.maxBodyBytes);
  if (o.scopes !== undefined && !(Array.isArray(o.scopes) && o.scopes.every((s) => typeof s === 'string'))) throw configError('scopes', 'an array of strings', o.scopes);
  if (o.record !== undefined && typeof o.record !== 'boolean') throw configError('record', 'a boolean', o.record);
  return o;
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/**
 * Starts a fake SendGrid API on 127.0.0.1.
 *
 * @example
 * ```ts
 * const sendgrid = await startSendGridServer();
 * const transport = sendgridTransport({ apiKey: sendgrid.apiKey, baseUrl: sendgrid.baseUrl });
 * sendgrid.failNext(1, 'rate-limit');
 * // ... send, then
 * expect(sendgrid.requests[0]?.body.subject).toBe('Hello');
 * await sendgrid.close();
 * ```
 */
export async function startSendGridServer(options?: SendGridServerOptions): Promise<SendGridServer> {
  const o = checkOptions(options);
  const apiKey = o.apiKey ?? 'SG.mailpush-test-key';
  const maxBodyBytes = o.maxBodyBytes ?? 31_457_280;
  const scopes = [...(o.scopes ?? ['mail.send'])];
  const record = o.record ?? true;

  let requests: SendGridRequest[] = [];
  let count = 0;
  let attempts = 0;
  let faults: { remaining: number; fault: SendGridFault }[] = [];
  let latencyMs = 0;
  const waits = new CountWaiters('SendGrid server', () => count, 'accepted');
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closing: Promise<void> | undefined;

  function later(ms: number, fn: () => void): void {
    if (ms === 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  function reply(res: ServerResponse, answer: Answer): void {
    later(latencyMs, () => {
      if (res.destroyed || res.writableEnded) return;
      const headers: Record<string, string> = { ...answer.headers };
      if (answer.body !== undefined) headers['content-type'] ??= 'application/json';
      res.writeHead(answer.status, STATUS_CODES[answer.status] ?? 'Unknown', headers);
      res.end(answer.body);
    });
  }

  function takeFault(): SendGridFault | undefined {
    const next = faults[0];
    if (next === undefined) return undefined;
    if (--next.remaining <= 0) faults.shift();
    return next.fault;
  }

  function authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${apiKey}`;
  }

  const unauthorized = (): Answer => errorsAnswer(401, [apiError('The provided authorization grant is invalid, expired, or revoked', null)]);

  function mailSend(req: IncomingMessage, res: ServerResponse, raw: Buffer | undefined): void {
    attempts++;
    const fault = takeFault();
    if (fault === 'disconnect') {
      later(latencyMs, () => req.socket.destroy());
      return;
    }
    if (fault !== undefined) return reply(res, faultAnswer(fault));
    if (!authorized(req)) return reply(res, unauthorized());
    if (raw === undefined) return reply(res, errorsAnswer(413, [apiError('Payload Too Large', null)]));
    if (!/^application\/json\s*(?:;|$)/i.test(req.headers['content-type'] ?? '')) {
      return reply(res, errorsAnswer(400, [apiError('Content-Type should be application/json.', null)]));
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return reply(res, errorsAnswer(400, [apiError('Bad Request', null, `${HELP}#-Request-Body-Parameters`)]));
    }
    const errors = checkMailBody(body);
    if (errors.length > 0) return reply(res, errorsAnswer(400, errors));
    const messageId = randomBytes(16).toString('base64url').slice(0, 22);
    count++;
    if (record) requests.push({ body: body as SendGridMailBody, headers: headerRecord(req), receivedAt: Date.now(), messageId });
    reply(res, { status: 202, headers: { 'x-message-id': messageId } });
    waits.notify();
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    // The whole body is read (and dropped past the limit) before answering, so a client
    // still sending gets the answer rather than a reset connection.
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => {});
    req.on('end', () => {
      if (path === '/v3/mail/send') {
        if (req.method !== 'POST') return reply(res, errorsAnswer(405, [apiError('Method not allowed', null)], { allow: 'POST' }));
        return mailSend(req, res, tooLarge ? undefined : Buffer.concat(chunks, size));
      }
      if (path === '/v3/scopes' && req.method === 'GET') {
        return reply(res, authorized(req) ? { status: 200, body: JSON.stringify({ scopes }) } : unauthorized());
      }
      reply(res, errorsAnswer(404, [apiError('resource not found', null)]));
    });
  });
  const connections = new Connections(server);
  server.on('clientError', (_err, socket) => socket.destroy());

  const port = await listenOn(server, '127.0.0.1', o.port ?? 0);

  const fake: SendGridServer = {
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey,
    get requests() {
      return requests;
    },
    get count() {
      return count;
    },
    get attempts() {
      return attempts;
    },
    failNext(n = 1, fault: SendGridFault = 'server-error') {
      if (n !== Infinity && !(Number.isInteger(n) && n >= 1)) throw configError('count', 'a positive integer or Infinity', n);
      faults.push({ remaining: n, fault: checkFault(fault) });
      return fake;
    },
    setLatency(ms: number) {
      if (!(typeof ms === 'number' && Number.isFinite(ms) && ms >= 0)) throw configError('ms', 'a finite number >= 0', ms);
      latencyMs = ms;
      return fake;
    },
    waitFor(target: number, timeoutMs?: number) {
      return waits.waitFor(target, timeoutMs);
    },
    reset() {
      requests = [];
      count = 0;
      attempts = 0;
      faults = [];
      latencyMs = 0;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        waits.close();
        server.close(() => resolve());
        connections.destroyAll();
      });
      return closing;
    },
  };
  return fake;
}

/**
 * SMTP transport over nodemailer's connection pool. It sends the bytes of `prepared.raw()`
 * (nodemailer's `raw` option): the message is composed once per job, with the job id, and a
 * retry or a failover sends the same bytes; a DKIM-signed message gets its signature header
 * fields from `raw()`, computed for each attempt. This file maps options, results and
 * errors, and stays out of the way on the hot path.
 *
 * Timeouts follow the SMTP phases (RFC 5321 4.5.3.2): nodemailer bounds connecting and the
 * greeting; its socket inactivity timeout is set to `commandTimeoutMs` and bounds every
 * command reply and any pause while the data is written. Once the last byte of the message
 * is handed to the connection, the wait for the final reply gets `dataTimeoutMs` instead: the
 * socket's inactivity timeout is raised for that phase (a reach into nodemailer's pool, with
 * a fallback when it is not there) and a timer of ours aborts the delivery when it runs out.
 *
 * A second, small pool (`criticalReserve` connections) takes `priority: 'critical'` sends
 * when every connection of the main pool is busy, so that deliveries stuck on a stalling
 * server hold up everything but critical mail.
 *
 * @module
 */

import { createTransport } from 'nodemailer';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import type { MailMessage, NodemailerError, SMTPPoolOptions, SMTPPoolSentMessageInfo, SendMailOptions } from 'nodemailer';
import { classifiedError } from '../classify/index.js';
import type { Classifier } from '../classify/index.js';
import { configError, describeValue, isMailError, MailError, MailErrorCode } from '../errors.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import { checkTransportName, namedTransport } from './named.js';
import { MESSAGE_ID, rawContent } from '../message/prepared.js';
import type { PreparedMessage, RejectedRecipient, SendResult, Transport, TransportCapabilities, TransportSendContext } from '../types.js';

/** Name of this transport, used in errors and events. */
export const TRANSPORT_NAME = 'smtp';

/** Password authentication (AUTH PLAIN or LOGIN, whichever the server offers). */
export interface SmtpPasswordAuth {
  readonly user: string;
  readonly pass: string;
}

/** XOAUTH2 with an access token you obtained and refresh yourself (create a new transport when it expires). */
export interface SmtpAccessTokenAuth {
  readonly user: string;
  readonly accessToken: string;
}

/** The nodemailer module, or anything with its `createTransport`. */
export interface NodemailerModule {
  /** nodemailer's `createTransport`. */
  readonly createTransport: typeof createTransport;
}

/** Options of {@link smtpTransport}. */
export interface SmtpTransportOptions {
  /** Server host name or IP address. */
  readonly host: string;
  /** Server port. @default 465 with `secure`, 587 otherwise */
  readonly port?: number;
  /** Implicit TLS from the first byte (RFC 8314, port 465). @default false */
  readonly secure?: boolean;
  /** Insist on STARTTLS: a server that does not offer it fails the send before anything is sent. @default false */
  readonly requireTLS?: boolean;
  /** Never use STARTTLS even when offered. Cannot be combined with `requireTLS`. @default false */
  readonly ignoreTLS?: boolean;
  /** Node TLS options (`rejectUnauthorized`, `ca`, `servername`, `minVersion`, ...). @default Node's defaults: verified certificates */
  readonly tls?: ConnectionOptions;
  /** Credentials. @default no authentication */
  readonly auth?: SmtpPasswordAuth | SmtpAccessTokenAuth;
  /** Most connections open at once for mail of any priority; also the transport's `maxConcurrency`. @default 5 */
  readonly maxConnections?: number;
  /**
   * Extra connections that only `priority: 'critical'` sends use, and only while all
   * `maxConnections` are busy: deliveries stuck on a stalling server cannot delay a password
   * reset. They open on first use and close when idle. Keep it equal to the mailer's
   * `limits.criticalReserve` (also 1 by default), which lets critical jobs reach them.
   * 0 turns the reserve off.
   * @default 1
   */
  readonly criticalReserve?: number;
  /** Messages sent over one connection before it is replaced. @default 100 */
  readonly maxMessages?: number;
  /** Time to establish the TCP connection (DNS and TLS included), in milliseconds. @default 120000 */
  readonly connectionTimeoutMs?: number;
  /** Time to wait for the server greeting (and a STARTTLS handshake), in milliseconds. @default 30000 */
  readonly greetingTimeoutMs?: number;
  /**
   * Time to wait for the reply to each command (EHLO, AUTH, MAIL FROM, RCPT TO, DATA, RSET),
   * and the longest pause allowed while the message data is written, in milliseconds.
   * A send that runs out fails with a retryable `TIMEOUT`.
   * @default 60000, or `socketTimeoutMs` when that is set
   */
  readonly commandTimeoutMs?: number;
  /**
   * Time to wait for the final reply after the end of the message data, in milliseconds.
   * RFC 5321 (4.5.3.2.6) asks for 10 minutes, since a server may scan the message before it
   * answers. A send that runs out fails with a retryable `TIMEOUT`; the server may have taken
   * the message all the same, so its retry can deliver it twice. Shorter values free the
   * connections a stalling relay holds sooner, at that risk.
   * @default 600000, or `socketTimeoutMs` when that is set
   */
  readonly dataTimeoutMs?: number;
  /**
   * @deprecated Use `commandTimeoutMs` and `dataTimeoutMs`. When set, it is the default of
   * both (one inactivity timeout for every phase, as before they existed).
   */
  readonly socketTimeoutMs?: number;
  /** Host name sent with EHLO (nodemailer's `name`; the transport's own name is `transportName`). @default the machine's host name */
  readonly name?: string;
  /**
   * Transport name in events and errors. Give two SMTP transports their own names to combine
   * them in `failover([...])` or `roundRobin([...])`, which need distinct member names.
   * @default 'smtp'
   */
  readonly transportName?: string;
  /** Log SMTP traffic to the console through nodemailer's logger (never in production: it shows addresses). @default false */
  readonly logger?: boolean;
  /** nodemailer module to use instead of the bundled one. @default the installed `nodemailer` */
  readonly lib?: NodemailerModule;
  /** Classification table for the server's replies (extend the defaults with `createClassifier`). @default defaultClassifier */
  readonly classifier?: Classifier;
}

type Pool = ReturnType<NodemailerModule['createTransport']> & {
  sendMail(data: SendMailOptions): Promise<SMTPPoolSentMessageInfo>;
  use(step: 'stream', plugin: (mail: MailMessage, done: (err?: Error | null) => void) => void): unknown;
  verify(): Promise<true>;
  close(): void;
};

const NO_REJECTIONS: readonly RejectedRecipient[] = Object.freeze([]);
// Postfix "250 2.0.0 Ok: queued as 4Jx9K31S2Xz", Exim "250 OK id=1tXyZa-0001Ab-2c",
// Sendmail "250 2.0.0 5B2N0abc012345 Message accepted for delivery".
const QUEUE_ID = /queued as ([\w.-]+)|\bid=([\w.-]+)|^250 (?:2\.\d{1,3}\.\d{1,3} )?(\w+) Message accepted/i;
// OpenSSL and Node certificate/handshake error codes, reported by nodemailer as ESOCKET.
const TLS_ERROR_CODE = /CERT|SSL|TLS|DEPTH_ZERO|UNABLE_TO_|HOSTNAME|ALTNAME|SELF_SIGNED/;
const HOST = /^[^\s\u0000-\u001f\u007f]+$/;
// nodemailer re-parses envelope addresses with its header address parser, which would turn
// `a@x>\r\nRCPT TO:<b@y` into b@y and `a@x,b@y` into two recipients: only plain
// addresses (or a quoted local part without controls or brackets) may reach it.
const ENVELOPE_ADDRESS = /^(?:[^\s<>,;"()\\\u0000-\u001f\u007f@]+|"(?:[^"\\<>\u0000-\u001f\u007f]|\\[^\u0000-\u001f\u007f])*")@[^\s<>,;"()\\\u0000-\u001f\u007f@]+$/;

const BOOLEAN_OPTIONS = ['secure', 'requireTLS', 'ignoreTLS', 'logger'] as const;
const TIMEOUT_OPTIONS = ['connectionTimeoutMs', 'greetingTimeoutMs', 'commandTimeoutMs', 'dataTimeoutMs', 'socketTimeoutMs'] as const;
const DEFAULT_CONNECTION_TIMEOUT_MS = 120_000;
const DEFAULT_GREETING_TIMEOUT_MS = 30_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;
/** RFC 5321 4.5.3.2.6, "DATA Termination: 10 minutes". */
const DEFAULT_DATA_TIMEOUT_MS = 600_000;
// Node timers overflow above 2^31-1 ms and fire at once.
const MAX_TIMER_MS = 2_147_483_647;
/** nodemailer's own default for closing idle pooled connections. */
const IDLE_TIMEOUT_MS = 240_000;
// The socket's own inactivity timeout during the end-of-data wait fires this much later than
// our timer, so that ours reports the phase; it stays as the backstop.
const SOCKET_BACKSTOP_MS = 1_000;

// Typed as a record of every option so that adding one to SmtpTransportOptions without listing it here fails to compile.
const OPTION_KEYS = knownKeys(
  Object.keys({
    host: true,
    port: true,
    secure: true,
    requireTLS: true,
    ignoreTLS: true,
    tls: true,
    auth: true,
    maxConnections: true,
    criticalReserve: true,
    maxMessages: true,
    connectionTimeoutMs: true,
    greetingTimeoutMs: true,
    commandTimeoutMs: true,
    dataTimeoutMs: true,
    socketTimeoutMs: true,
    name: true,
    transportName: true,
    logger: true,
    lib: true,
    classifier: true,
  } satisfies Record<keyof SmtpTransportOptions, true>),
);
const AUTH_KEYS = knownKeys(['user', 'pass', 'accessToken']);

function checkOptions(options: unknown): SmtpTransportOptions {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  rejectUnknownKeys(options, OPTION_KEYS, 'SMTP transport option', MailErrorCode.CONFIG);
  const o = options as SmtpTransportOptions;
  if (typeof o.host !== 'string' || o.host === '' || o.host.length > 255 || !HOST.test(o.host)) {
    throw configError('host', 'a host name or IP address', o.host);
  }
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port >= 1 && o.port <= 65535)) {
    throw configError('port', 'an integer from 1 to 65535', o.port);
  }
  for (const key of BOOLEAN_OPTIONS) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw configError(key, 'a boolean', o[key]);
  }
  if (o.requireTLS === true && o.ignoreTLS === true) throw configError('ignoreTLS', 'false or unset when `requireTLS` is true', true);
  if (o.tls !== undefined && (typeof o.tls !== 'object' || o.tls === null || Array.isArray(o.tls))) {
    throw configError('tls', 'an object of Node TLS options', o.tls);
  }
  if (o.auth !== undefined) checkAuth(o.auth);
  if (o.maxConnections !== undefined && !(Number.isInteger(o.maxConnections) && o.maxConnections >= 1 && o.maxConnections <= 1000)) {
    throw configError('maxConnections', 'an integer from 1 to 1000', o.maxConnections);
  }
  if (o.criticalReserve !== undefined && !(Number.isInteger(o.criticalReserve) && o.criticalReserve >= 0 && o.criticalReserve <= 1000)) {
    throw configError('criticalReserve', 'an integer from 0 to 1000', o.criticalReserve);
  }
  if (o.maxMessages !== undefined && !(o.maxMessages === Infinity || (Number.isInteger(o.maxMessages) && o.maxMessages >= 1))) {
    throw configError('maxMessages', 'a positive integer or Infinity', o.maxMessages);
  }
  for (const key of TIMEOUT_OPTIONS) {
    const value = o[key];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= MAX_TIMER_MS)) {
      throw configError(key, 'a number of milliseconds from 1 to 2147483647', value);
    }
  }
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '' || o.name.length > 255 || !HOST.test(o.name))) {
    throw configError('name', 'a host name without spaces or control characters', o.name);
  }
  if (o.classifier !== undefined && (typeof o.classifier !== 'object' || o.classifier === null || typeof o.classifier.classify !== 'function')) {
    throw configError('classifier', 'a Classifier from createClassifier()', o.classifier);
  }
  if (o.lib !== undefined && (typeof o.lib !== 'object' || o.lib === null || typeof o.lib.createTransport !== 'function')) {
    throw configError('lib', 'the nodemailer module (an object with createTransport)', o.lib);
  }
  return o;
}

function checkAuth(auth: unknown): void {
  if (typeof auth !== 'object' || auth === null) throw configError('auth', 'an object with user and pass, or user and accessToken', auth);
  rejectUnknownKeys(auth, AUTH_KEYS, 'SMTP auth option', MailErrorCode.CONFIG, 'auth');
  const a = auth as Partial<SmtpPasswordAuth & SmtpAccessTokenAuth>;
  if (typeof a.user !== 'string' || a.user === '') throw configError('auth.user', 'a non-empty string', a.user);
  const hasPass = a.pass !== undefined;
  const hasToken = a.accessToken !== undefined;
  if (hasPass === hasToken) throw configError('auth', 'exactly one of `pass` and `accessToken`', auth);
  if (hasPass && typeof a.pass !== 'string') throw configError('auth.pass', 'a string', a.pass);
  if (hasToken && (typeof a.accessToken !== 'string' || a.accessToken === '')) {
    throw configError('auth.accessToken', 'a non-empty string', a.accessToken);
  }
}

/** Timeouts of each phase after defaults, in milliseconds. */
interface PhaseTimeouts {
  readonly connection: number;
  readonly greeting: number;
  readonly command: number;
  readonly data: number;
}

function phaseTimeouts(o: SmtpTransportOptions): PhaseTimeouts {
  return {
    connection: o.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    greeting: o.greetingTimeoutMs ?? DEFAULT_GREETING_TIMEOUT_MS,
    command: o.commandTimeoutMs ?? o.socketTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    data: o.dataTimeoutMs ?? o.socketTimeoutMs ?? DEFAULT_DATA_TIMEOUT_MS,
  };
}

function toPoolOptions(o: SmtpTransportOptions, timeouts: PhaseTimeouts, socketTimeout: number, maxConnections: number): SMTPPoolOptions & { pool: true } {
  const auth = o.auth === undefined
    ? undefined
    : 'accessToken' in o.auth
      ? { type: 'OAuth2', user: o.auth.user, accessToken: o.auth.accessToken }
      : { user: o.auth.user, pass: o.auth.pass };
  return {
    pool: true,
    host: o.host,
    port: o.port,
    secure: o.secure ?? false,
    requireTLS: o.requireTLS ?? false,
    ignoreTLS: o.ignoreTLS ?? false,
    tls: o.tls,
    auth,
    maxConnections,
    maxMessages: o.maxMessages ?? 100,
    // An idle pooled connection is closed with QUIT before its socket timeout could end it
    // with an error (nodemailer's 4 minutes would outlast a 60 s command timeout).
    idleTimeout: Math.min(IDLE_TIMEOUT_MS, Math.floor(socketTimeout * 0.9)),
    connectionTimeout: timeouts.connection,
    greetingTimeout: timeouts.greeting,
    socketTimeout,
    name: o.name,
    logger: o.logger ?? false,
  };
}

// nodemailer copies unknown mail options into `mail.data`, where the stream plugin finds them.
const DATA_END_FIELD = 'mailpushOnDataEnd';
/** Mail options carrying the end-of-data hook of a send to the stream plugin. */
type TrackedMailOptions = SendMailOptions & { [DATA_END_FIELD]?: (mail: MailMessage) => void };

/**
 * Stream plugin: reports when the connection has read the last byte of the message.
 * nodemailer runs the process function when a connection starts on the message (again if
 * the pool moves it to another connection).
 */
function deliveryPlugin(mail: MailMessage, done: (err?: Error | null) => void): void {
  const onDataEnd = (mail.data as TrackedMailOptions)[DATA_END_FIELD];
  if (onDataEnd !== undefined) {
    mail.message.processFunc((output: Readable) => {
      // 'end' fires once the consumer (the connection's data stream) has read everything.
      output.once('end', () => onDataEnd(mail));
      return output;
    });
  }
  done();
}

/** The parts of nodemailer's pool this file reaches into, all optional: a `lib` may lack them. */
interface PoolInternals {
  readonly transporter?: {
    readonly _connections?: readonly ({ readonly queueEntry?: { readonly mail?: unknown } | false; readonly connection?: { readonly _socket?: Socket } | false } | undefined)[];
  };
}

/** Whether the pool exposes its connections, so that a phase can change a socket's timeout. */
function exposesSockets(pool: Pool): boolean {
  return Array.isArray((pool as unknown as PoolInternals).transporter?._connections);
}

/** Socket of the pooled connection delivering `mail`, when it can be found and is open. */
function socketOf(pool: Pool, mail: MailMessage): Socket | undefined {
  const connections = (pool as unknown as PoolInternals).transporter?._connections;
  if (!Array.isArray(connections)) return undefined;
  for (const c of connections) {
    if (c === undefined || !c.queueEntry || c.queueEntry.mail !== mail) continue;
    const socket = c.connection ? c.connection._socket : undefined;
    return socket !== undefined && typeof socket.setTimeout === 'function' && !socket.destroyed ? socket : undefined;
  }
  return undefined;
}

/** Extracts the id the server gave the message from its final reply, when it names one. */
export function parseQueueId(response: string | undefined): string | undefined {
  if (response === undefined) return undefined;
  const m = QUEUE_ID.exec(response);
  return m === null ? undefined : (m[1] ?? m[2] ?? m[3]);
}

// Codes nodemailer puts on any refused command: with a server reply at hand, the reply says
// more (a 421 4.7.28 arrives as ECONNECTION because the server hangs up after it).
const REPLY_ERROR_CODES: ReadonlySet<string> = new Set(['ECONNECTION', 'EENVELOPE', 'EMESSAGE', 'EPROTOCOL']);

/** Error code for the classifier: TLS failures surface as ESOCKET with an OpenSSL code underneath. */
function errorCodeOf(err: NodemailerError, hasReply: boolean): string | undefined {
  const code = err.code;
  if (code === 'ETLS' || code === 'EREQUIRETLS') return 'ETLS';
  const original = err.originalCode;
  if (typeof original === 'string' && TLS_ERROR_CODE.test(original)) return 'ETLS';
  if (code === 'ESOCKET' && typeof original === 'string') return original;
  if (code === undefined || (hasReply && REPLY_ERROR_CODES.has(code))) return undefined;
  return code;
}

/** Maps a nodemailer error to a classified MailError. */
function toMailErrorFrom(err: unknown, classifier: Classifier | undefined, recipient?: string): MailError {
  if (isMailError(err)) return err;
  if (typeof err !== 'object' || err === null) {
    return new MailError(`SMTP send failed: ${String(err)}`, { code: MailErrorCode.INTERNAL, transport: TRANSPORT_NAME, cause: err });
  }
  const e = err as NodemailerError;
  const hasReply = typeof e.responseCode === 'number';
  const errorCode = errorCodeOf(e, hasReply);
  const input = {
    ...(hasReply ? { responseCode: e.responseCode as number } : {}),
    ...(errorCode !== undefined ? { errorCode } : {}),
    text: typeof e.response === 'string' ? e.response : String(e.message),
  };
  return classifiedError(input, {
    ...(classifier !== undefined ? { classifier } : {}),
    transport: TRANSPORT_NAME,
    cause: err,
    message: e.command ? `SMTP ${e.command} failed: ${e.message}` : `SMTP send failed: ${e.message}`,
    ...(recipient !== undefined ? { recipient } : {}),
  });
}

function isPlainAddress(value: unknown): boolean {
  return typeof value === 'string' && value.length <= 320 && ENVELOPE_ADDRESS.test(value);
}

function checkEnvelope(envelope: PreparedMessage['envelope']): MailError | undefined {
  const to = envelope.to;
  let bad = isPlainAddress(envelope.from) ? -1 : to.length;
  for (let i = 0; bad === -1 && i < to.length; i++) if (!isPlainAddress(to[i])) bad = i;
  if (bad === -1 && to.length > 0) return undefined;
  return new MailError(
    bad === -1 ? 'SMTP envelope has no recipients' : `SMTP envelope address ${describeValue(bad === to.length ? envelope.from : to[bad])} is not a plain address`,
    { code: MailErrorCode.VALIDATION, transport: TRANSPORT_NAME },
  );
}

/** Per-recipient errors of an EENVELOPE rejection that refused every recipient, if nodemailer gave them. */
function allRefused(err: unknown, to: readonly string[], classifier: Classifier | undefined): RejectedRecipient[] | undefined {
  const e = err as (NodemailerError & { rejectedErrors?: unknown }) | null;
  if (e === null || typeof e !== 'object' || e.code !== 'EENVELOPE' || !Array.isArray(e.rejectedErrors)) return undefined;
  const errors = e.rejectedErrors as (NodemailerError & { recipient?: string })[];
  if (errors.length !== to.length || !to.every((a) => errors.some((x) => x.recipient === a))) return undefined;
  return to.map((address) => ({ address, error: toMailErrorFrom(errors.find((x) => x.recipient === address), classifier, address) }));
}

function toResult(info: SMTPPoolSentMessageInfo, classifier: Classifier | undefined): SendResult {
  let rejected = NO_REJECTIONS;
  if (info.rejected.length > 0) {
    const errors = info.rejectedErrors ?? [];
    rejected = info.rejected.map((address) => {
      const error = errors.find((e) => e.recipient === address);
      return {
        address,
        error: error === undefined
          ? classifiedError({ text: 'Recipient rejected' }, { ...(classifier !== undefined ? { classifier } : {}), transport: TRANSPORT_NAME, recipient: address })
          : toMailErrorFrom(error, classifier, address),
      };
    });
  }
  const providerMessageId = info.serverMessageId ?? parseQueueId(info.response);
  return providerMessageId === undefined
    ? { response: info.response, accepted: info.accepted, rejected }
    : { providerMessageId, response: info.response, accepted: info.accepted, rejected };
}

/**
 * Creates an SMTP transport with a connection pool.
 *
 * Aborting a send that is still queued in the pool removes it; aborting one being delivered
 * closes its connection and rejects at once with `ABORTED`. If the server had already
 * accepted the message by then, it is delivered all the same: an abort cannot recall mail.
 *
 * A send is never retried here, with one exception inherited from nodemailer: when a reused
 * pooled connection turns out to be dead (or answers 421) before any byte of the message
 * went out, the pool moves the message to another connection, at most 5 times. A 421
 * (Gmail 4.7.28, Yahoo TSS04) on a warm pool can therefore be answered once per connection
 * before it surfaces; when it surfaces it is classified like any other reply. (That includes
 * a reused connection that times out waiting for a command reply.)
 *
 * Every phase has its own timeout (`greetingTimeoutMs`, `commandTimeoutMs`, `dataTimeoutMs`),
 * and a send that runs out rejects with a retryable `TIMEOUT`. While every one of the
 * `maxConnections` connections is busy, `priority: 'critical'` sends go over up to
 * `criticalReserve` extra connections.
 *
 * @example
 * ```ts
 * const smtp = smtpTransport({ host: 'smtp.example.com', port: 465, secure: true, auth: { user, pass } });
 * await smtp.verify();
 *
 * // A relay that sometimes sits on a message after its data: give up after 2 minutes.
 * const relay = smtpTransport({ host: 'relay.internal', port: 25, commandTimeoutMs: 30_000, dataTimeoutMs: 120_000 });
 * ```
 */
export default function smtpTransport(options: SmtpTransportOptions): Transport {
  if (typeof options === 'object' && options !== null && options.transportName !== undefined) {
    const { transportName, ...rest } = options;
    return namedTransport(smtpTransport(rest), checkTransportName('transportName', transportName));
  }
  const o = checkOptions(options);
  const classifier = o.classifier;
  const lib = o.lib ?? { createTransport };
  const timeouts = phaseTimeouts(o);
  const maxConnections = o.maxConnections ?? 5;
  const reserveSize = o.criticalReserve ?? 1;

  /** One nodemailer pool and the sends handed to it that have not settled. */
  interface Lane {
    readonly pool: Pool;
    readonly size: number;
    /** Whether a phase can change a connection's socket timeout (see {@link socketOf}). */
    readonly sockets: boolean;
    /** Socket inactivity timeout outside the end-of-data phase. */
    readonly socketTimeout: number;
    inflight: number;
  }

  function openPool(size: number, socketTimeout: number): Pool {
    const pool = lib.createTransport(toPoolOptions(o, timeouts, socketTimeout, size)) as Pool;
    pool.use('stream', deliveryPlugin);
    // The pool reports connection failures through the send callbacks; an 'error' event
    // without a listener would crash the host process.
    pool.on('error', () => {});
    return pool;
  }

  let mainPool = openPool(maxConnections, timeouts.command);
  const sockets = exposesSockets(mainPool);
  let socketTimeout = timeouts.command;
  if (!sockets && timeouts.data > timeouts.command) {
    // Without a way to raise it for the end-of-data phase, the socket timeout has to cover
    // that phase all along (our own timer still ends that phase on time).
    mainPool.close();
    socketTimeout = timeouts.data;
    mainPool = openPool(maxConnections, socketTimeout);
  }
  const main: Lane = { pool: mainPool, size: maxConnections, sockets, socketTimeout, inflight: 0 };
  // Opened on the first critical send that finds the main pool busy.
  let reserve: Lane | undefined;
  const capabilities: TransportCapabilities = Object.freeze({ rawMime: true, maxConcurrency: maxConnections });
  let closed = false;

  function closedError(): MailError {
    return new MailError('SMTP transport is closed', { code: MailErrorCode.CLOSED, transport: TRANSPORT_NAME });
  }

  function abortedError(signal: AbortSignal): MailError {
    return new MailError('SMTP send was aborted', { code: MailErrorCode.ABORTED, transport: TRANSPORT_NAME, cause: signal.reason });
  }

  function dataTimeoutError(): MailError {
    const ms = timeouts.data;
    return classifiedError(
      { errorCode: 'ETIMEDOUT', text: `No reply to the end of the message data within ${ms} ms` },
      { ...(classifier !== undefined ? { classifier } : {}), transport: TRANSPORT_NAME, message: `SMTP end of data timed out: no reply within ${ms} ms (dataTimeoutMs)` },
    );
  }

  /** The pool for a send: the reserve takes critical mail when every main connection is busy. */
  function laneFor(context: TransportSendContext): Lane {
    if (context.priority !== 'critical' || reserveSize === 0 || main.inflight < main.size) return main;
    reserve ??= { pool: openPool(reserveSize, socketTimeout), size: reserveSize, sockets, socketTimeout, inflight: 0 };
    return reserve;
  }

  function send(prepared: PreparedMessage, context: TransportSendContext): Promise<SendResult> {
    const signal = context.signal;
    if (closed) return Promise.reject(closedError());
    if (signal.aborted) return Promise.reject(abortedError(signal));
    const invalid = checkEnvelope(prepared.envelope);
    if (invalid !== undefined) return Promise.reject(invalid);
    let raw: Promise<Buffer>;
    try {
      raw = prepared.raw();
    } catch (err) {
      return Promise.reject(rawError(err));
    }
    return raw.then(
      (bytes) => {
        if (closed) throw closedError();
        if (signal.aborted) throw abortedError(signal);
        return deliver(prepared, bytes, context);
      },
      (err: unknown) => {
        throw rawError(err);
      },
    );
  }

  /**
   * A message that cannot be composed rejects with the MailError of composing (VALIDATION);
   * anything else that fails in `raw()` (a DKIM signer) is retryable, as it was when it
   * failed inside nodemailer's stream.
   */
  function rawError(err: unknown): MailError {
    if (isMailError(err)) return err;
    return new MailError(`SMTP message could not be prepared: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.INTERNAL, retryable: true, transport: TRANSPORT_NAME, cause: err });
  }

  /** Hands the composed bytes to the pool and maps the outcome. */
  function deliver(prepared: PreparedMessage, bytes: Buffer, context: TransportSendContext): Promise<SendResult> {
    const signal = context.signal;
    const lane = laneFor(context);
    const to = prepared.envelope.to;
    const mail: TrackedMailOptions = {
      // Large messages as a stream of slices: nodemailer handles a Buffer in one turn.
      raw: rawContent(bytes),
      // Not written (the raw bytes go as they are): it spares nodemailer generating one.
      messageId: (prepared as { readonly [MESSAGE_ID]?: string })[MESSAGE_ID] ?? prepared.message.messageId,
      // nodemailer only reads the envelope (setEnvelope builds its own arrays).
      envelope: { from: prepared.envelope.from, to: to as string[] },
      disableFileAccess: true,
      disableUrlAccess: true,
    };
    // nodemailer takes the caller's signal as is (its listeners go when the send settles).
    // Only a pool whose connections cannot be reached needs a signal of ours, to cut a
    // stalled end of data short; otherwise the timer below destroys the connection's socket.
    let controller: AbortController | undefined;
    let forward: (() => void) | undefined;
    if (lane.sockets) mail.signal = signal;
    else {
      const own = (controller = new AbortController());
      forward = () => own.abort(signal.reason);
      signal.addEventListener('abort', forward, { once: true });
      mail.signal = own.signal;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let raised: Socket | undefined;
    let timedOut: MailError | undefined;
    mail[DATA_END_FIELD] = (message) => {
      clearTimeout(timer);
      const socket = lane.sockets ? socketOf(lane.pool, message) : undefined;
      if (socket !== undefined) {
        socket.setTimeout(Math.min(timeouts.data + SOCKET_BACKSTOP_MS, MAX_TIMER_MS));
        raised = socket;
      }
      // Without the socket (a pool that hides its connections, or one not found), the
      // socket's own inactivity timeout stays as it was.
      if (socket === undefined && controller === undefined) return;
      timer = setTimeout(() => {
        timedOut = dataTimeoutError();
        // nodemailer fails the delivery of a destroyed connection (or of an aborted one) at once.
        if (controller !== undefined) controller.abort(timedOut);
        else socket?.destroy();
      }, timeouts.data);
      timer.unref?.();
    };
    lane.inflight++;
    const settle = (): void => {
      lane.inflight--;
      clearTimeout(timer);
      if (forward !== undefined) signal.removeEventListener('abort', forward);
      // The connection goes on to its next command: back to the command timeout. This runs
      // before the pool hands the connection its next message (it does so on setImmediate).
      if (raised !== undefined && !raised.destroyed) raised.setTimeout(lane.socketTimeout);
    };
    return lane.pool.sendMail(mail).then(
      (info) => {
        settle();
        return toResult(info, classifier);
      },
      (err: unknown) => {
        settle();
        if (timedOut !== undefined) throw timedOut;
        if (signal.aborted) throw abortedError(signal);
        // Every recipient refused at RCPT, some for good and some for now: report each one's own
        // reply, so that an unknown address fails at once while a deferred one is retried.
        const refused = allRefused(err, to, classifier);
        if (refused !== undefined && refused.some((r) => r.error.retryable) && refused.some((r) => !r.error.retryable)) {
          return { accepted: [], rejected: refused };
        }
        // Messages still queued in the pool when it closes fail with a plain Error.
        if (closed && (err as NodemailerError | null)?.code === undefined) throw closedError();
        throw toMailErrorFrom(err, classifier);
      },
    );
  }

  return {
    name: TRANSPORT_NAME,
    capabilities,
    send,
    verify() {
      if (closed) return Promise.reject(closedError());
      return main.pool.verify().then(
        () => undefined,
        (err: unknown) => {
          throw toMailErrorFrom(err, classifier);
        },
      );
    },
    close() {
      // Idle connections close at once; a delivery in progress finishes first (abort its
      // signal to cut it short). Sends still queued reject with CLOSED.
      if (!closed) {
        closed = true;
        main.pool.close();
        reserve?.pool.close();
      }
      return Promise.resolve();
    },
  };
}

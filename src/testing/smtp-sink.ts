/**
 * A local SMTP server for tests and benchmarks, built on smtp-server: it accepts mail, keeps
 * (and parses) what it receives, and answers with scripted replies per recipient: tempfail,
 * permanent refusal, provider throttling, dropped connections, slow replies.
 *
 * smtp-server and mailparser are loaded lazily, so they are only needed where a sink runs.
 *
 * @module
 */

import type { ParsedMail } from 'mailparser';
import type { SMTPServer, SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { configError, MailError, MailErrorCode } from '../errors.js';
import { compileRecipientMatch, resolveFault } from '../transports/faults.js';
import { importOptionalAll } from '../deps/optional.js';
import { Connections, CountWaiters, listenOn } from './fake-server.js';
import type { Fault, FaultReply, RecipientMatch } from '../transports/faults.js';

/** When a rule answers: at RCPT TO (per recipient) or after the message data (per message). */
export type SinkStage = 'rcpt' | 'data';

/**
 * A scripted answer of the sink. At `'rcpt'` a rule is checked for each RCPT TO; at
 * `'data'` it applies to a message when any of its recipients matches.
 *
 * Replies with a code are sent as `code enhancedStatus text`. A 421 reply also closes the
 * connection, as a real server does (smtp-server enforces this). The `connection` preset
 * drops the connection without a reply, `timeout` never answers.
 */
export interface SinkRule {
  /** Recipients the rule applies to: address, `'@domain'`, glob (`'*@slow.test'`), RegExp or predicate. */
  readonly match: RecipientMatch;
  /** The answer. @default accept (useful with `delayMs` alone for a slow server) */
  readonly reply?: Fault;
  /** When to answer. @default 'rcpt' */
  readonly stage?: SinkStage;
  /** Wait this long before answering, in milliseconds. @default 0 */
  readonly delayMs?: number;
  /** Apply to the first `times` matching attempts only, then accept. @default unlimited */
  readonly times?: number;
}

/** TLS key and certificate of the sink (PEM). */
export interface SinkTlsOptions {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
}

/** Options of {@link startSmtpSink}. */
export interface SmtpSinkOptions {
  /** Address to listen on. Must be a loopback address unless `allowRemote` is set. @default '127.0.0.1' */
  readonly host?: string;
  /** Port to listen on; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Allow a non-loopback `host`, exposing the sink to the network. @default false */
  readonly allowRemote?: boolean;
  /** Scripted replies, checked in order; the first active match answers. @default [] */
  readonly rules?: readonly SinkRule[];
  /** Parse each message with mailparser into {@link SinkMessage.parsed}. @default true */
  readonly parse?: boolean;
  /** Keep the raw bytes of each message in {@link SinkMessage.raw}. @default false */
  readonly keepRaw?: boolean;
  /** Require AUTH (PLAIN or LOGIN, allowed without TLS) with these credentials. @default no AUTH offered */
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Implicit TLS from the first byte (port 465 style). @default false */
  readonly secure?: boolean;
  /**
   * Key and certificate for implicit TLS and STARTTLS.
   * @default smtp-server's built-in test certificate, whose private key is public: clients need `rejectUnauthorized: false`
   */
  readonly tls?: SinkTlsOptions;
  /**
   * Do not offer STARTTLS. By default it is offered only when `tls` gives a certificate, so
   * that a client with default settings (verifying certificates) can talk to the sink.
   * @default true without `tls`, false with it
   */
  readonly disableStartTls?: boolean;
  /** Largest message accepted, in bytes; larger ones get `552 5.3.4`. @default unlimited */
  readonly maxSize?: number;
  /**
   * Only check addresses for `local@domain` shape in MAIL FROM and RCPT TO, so quoted local
   * parts like `"john..doe"@example.com` get through (smtp-server refuses them by default; it
   * cannot take spaces inside quotes either way). @default false
   */
  readonly lenientAddresses?: boolean;
  /** Server name in the greeting. @default 'localhost' */
  readonly name?: string;
  /** Log the SMTP session to the console. @default false */
  readonly logger?: boolean;
}

/** A message the sink accepted. */
export interface SinkMessage {
  /** Queue id the sink gave it (also in the `250 2.0.0 Ok: queued as <id>` reply). */
  readonly id: string;
  /** MAIL FROM (empty for the null sender) and the accepted RCPT TO addresses. */
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  /** Size of the message data in bytes. */
  readonly size: number;
  /** The message data, with `keepRaw: true`. */
  readonly raw?: Buffer;
  /** The message parsed by mailparser, with `parse: true` (absent if it could not be parsed). */
  readonly parsed?: ParsedMail;
  /** When it was accepted, ms since epoch. */
  readonly receivedAt: number;
  /** Whether the session was encrypted (implicit TLS or STARTTLS). */
  readonly secure: boolean;
  /** The authenticated user name, when the session authenticated. */
  readonly user?: string;
}

/** A running SMTP sink. */
export interface SmtpSink {
  /** Address it listens on. */
  readonly host: string;
  /** Port it listens on. */
  readonly port: number;
  /** Whether it speaks implicit TLS. */
  readonly secure: boolean;
  /** `smtp://host:port` (or `smtps://`). */
  readonly url: string;
  /** Messages accepted, when they are kept (`parse` or `keepRaw`); see {@link SmtpSink.count} otherwise. */
  readonly messages: readonly SinkMessage[];
  /** Number of messages accepted (kept or not). */
  readonly count: number;
  /** Bytes of message data accepted. */
  readonly bytes: number;
  /** RCPT TO attempts per recipient (lower-cased), accepted or not. */
  readonly attemptsByRecipient: ReadonlyMap<string, number>;
  /** RCPT TO attempts for one recipient. */
  attempts(address: string): number;
  /** Adds a rule after the existing ones. */
  addRule(rule: SinkRule): void;
  /** Answers the next `count` messages with `fault` after their data, whatever the recipients. Checked before other rules. @default count 1, fault 'tempfail' */
  failNext(count?: number, fault?: Fault): void;
  /** Resolves once `count` messages were accepted in total; rejects with `TIMEOUT` after `timeoutMs`. @default timeoutMs 5000 */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  /** Forgets messages, counts and attempts, drops rules added later and re-arms the `times` of the initial rules. */
  reset(): void;
  /** Stops listening and drops open connections at once. Idempotent. */
  close(): Promise<void>;
}

interface ActiveRule {
  readonly test: (recipient: string) => boolean;
  readonly reply: FaultReply | undefined;
  readonly stage: SinkStage;
  readonly delayMs: number;
  remaining: number;
}

type SmtpServerModule = typeof import('smtp-server');
type MailparserModule = typeof import('mailparser');

/**
 * Imports an optional peer dependency, turning "not installed" into MISSING_DEPENDENCY.
 * @internal
 */
export async function importOptional<T>(pkg: string, load: () => Promise<T>): Promise<T> {
  const [mod] = await importOptionalAll<[T]>(SINK, [{ pkg, load }], true);
  return mod;
}

const SINK = 'The SMTP sink (mailpush/testing)';

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|::1|localhost)$/i;

function checkRule(rule: unknown, option: string): ActiveRule {
  if (typeof rule !== 'object' || rule === null) throw configError(option, 'a rule object', rule);
  const r = rule as SinkRule;
  const test = compileRecipientMatch(r.match, `${option}.match`);
  const reply = r.reply === undefined ? undefined : resolveFault(r.reply, `${option}.reply`);
  const stage = r.stage ?? 'rcpt';
  if (stage !== 'rcpt' && stage !== 'data') throw configError(`${option}.stage`, '"rcpt" or "data"', r.stage);
  const delayMs = r.delayMs ?? 0;
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > 2_147_483_647) {
    throw configError(`${option}.delayMs`, 'a number of milliseconds >= 0', r.delayMs);
  }
  const times = r.times ?? Infinity;
  if (times !== Infinity && !(Number.isInteger(times) && times >= 1)) throw configError(`${option}.times`, 'a positive integer', r.times);
  return { test, reply, stage, delayMs, remaining: times };
}

function checkOptions(options: unknown): SmtpSinkOptions {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const o = options as SmtpSinkOptions;
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw configError('host', 'an IP address or host name', o.host);
  if (!LOOPBACK.test(host) && o.allowRemote !== true) {
    throw configError('host', 'a loopback address (127.0.0.1, ::1, localhost) unless `allowRemote` is true', host);
  }
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port >= 0 && o.port <= 65535)) {
    throw configError('port', 'an integer from 0 to 65535', o.port);
  }
  for (const key of ['allowRemote', 'parse', 'keepRaw', 'secure', 'disableStartTls', 'lenientAddresses', 'logger'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw configError(key, 'a boolean', o[key]);
  }
  if (o.rules !== undefined && !Array.isArray(o.rules)) throw configError('rules', 'an array of rules', o.rules);
  if (o.auth !== undefined) {
    if (typeof o.auth !== 'object' || o.auth === null) throw configError('auth', 'an object with user and pass', o.auth);
    if (typeof o.auth.user !== 'string' || o.auth.user === '') throw configError('auth.user', 'a non-empty string', o.auth.user);
    if (typeof o.auth.pass !== 'string') throw configError('auth.pass', 'a string', o.auth.pass);
  }
  if (o.tls !== undefined) {
    if (typeof o.tls !== 'object' || o.tls === null) throw configError('tls', 'an object with key and cert', o.tls);
    for (const key of ['key', 'cert'] as const) {
      const v = o.tls[key];
      if (typeof v !== 'string' && !Buffer.isBuffer(v)) throw configError(`tls.${key}`, 'a PEM string or Buffer', v);
    }
  }
  if (o.maxSize !== undefined && !(Number.isInteger(o.maxSize) && o.maxSize >= 1)) {
    throw configError('maxSize', 'a positive integer number of bytes', o.maxSize);
  }
  if (o.name !== undefined && (typeof o.name !== 'string' || !/^[^\s\u0000-\u001f\u007f]{1,255}$/.test(o.name))) {
    throw configError('name', 'a host name without spaces or control characters', o.name);
  }
  return o;
}

interface ReplyError extends Error {
  responseCode?: number;
}

function replyError(reply: FaultReply): ReplyError {
  // smtp-server writes `code message`; enhanced status codes are off, so ours travel in the text.
  const text = reply.enhancedStatus === undefined ? reply.text : `${reply.enhancedStatus} ${reply.text}`;
  const err: ReplyError = new Error(text);
  if (reply.responseCode !== undefined) err.responseCode = reply.responseCode;
  return err;
}

/**
 * Starts an SMTP sink on 127.0.0.1 and a free port.
 *
 * @example
 * ```ts
 * const sink = await startSmtpSink({
 *   rules: [
 *     { match: 'gone@example.com', reply: 'recipient-unknown' },
 *     { match: '@gmail.test', reply: 'throttle-gmail', times: 1 },
 *     { match: '*@slow.test', delayMs: 500 },
 *   ],
 * });
 * const smtp = smtpTransport({ host: sink.host, port: sink.port });
 * // ... send, then
 * await sink.waitFor(1);
 * expect(sink.messages[0]?.parsed?.subject).toBe('Hello');
 * await sink.close();
 * ```
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const o = checkOptions(options);
  const host = o.host ?? '127.0.0.1';
  const parse = o.parse ?? true;
  const keepRaw = o.keepRaw ?? false;
  const keep = parse || keepRaw;
  const secure = o.secure ?? false;
  const initialRules = (o.rules ?? []).map((r, i) => checkRule(r, `rules[${i}]`));

  // Both at once, so that a project missing both hears of both in one error.
  const [{ SMTPServer: Server }, parser] = await importOptionalAll<[SmtpServerModule, MailparserModule | undefined]>(SINK, [
    { pkg: 'smtp-server', load: () => import('smtp-server') },
    { pkg: 'mailparser', load: () => (parse ? import('mailparser') : Promise.resolve(undefined)) },
  ], true);
  const simpleParser = parser?.simpleParser;

  let rules: ActiveRule[] = [];
  let messages: SinkMessage[] = [];
  let count = 0;
  let bytes = 0;
  let queueSeq = 0;
  let attempts = new Map<string, number>();
  const waits = new CountWaiters('SMTP sink', () => count);
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closing: Promise<void> | undefined;

  function armInitialRules(): void {
    rules = initialRules.map((r) => ({ ...r }));
  }
  armInitialRules();

  function take(stage: SinkStage, recipients: readonly string[]): ActiveRule | undefined {
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (rule.stage !== stage || !recipients.some(rule.test)) continue;
      if (--rule.remaining <= 0) rules.splice(i, 1);
      return rule;
    }
    return undefined;
  }

  function later(ms: number, fn: () => void): void {
    if (ms === 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  // Answers for a rule: accept, reply with an error, drop the connection or never answer.
  function answer(rule: ActiveRule, session: SMTPServerSession, accept: () => void, refuse: (err: ReplyError) => void): void {
    later(rule.delayMs, () => {
      const reply = rule.reply;
      if (reply === undefined) return accept();
      if (reply.responseCode !== undefined) return refuse(replyError(reply));
      if (reply.errorCode === 'ETIMEDOUT') return; // the client's socket timeout (or close()) ends it
      connections.byRemotePort(session.remotePort)?.destroy();
    });
  }

  function record(session: SMTPServerSession, size: number, raw: Buffer | undefined, parsed: ParsedMail | undefined): string {
    const id = (++queueSeq).toString(16).toUpperCase().padStart(8, '0');
    count++;
    bytes += size;
    if (keep) {
      const from = session.envelope.mailFrom;
      const user = session.user as unknown;
      messages.push({
        id,
        envelope: { from: from ? from.address : '', to: session.envelope.rcptTo.map((a) => a.address) },
        size,
        receivedAt: Date.now(),
        secure: session.secure,
        ...(keepRaw && raw !== undefined ? { raw } : {}),
        ...(parsed !== undefined ? { parsed } : {}),
        ...(typeof user === 'string' ? { user } : {}),
      });
    }
    waits.notify();
    return id;
  }

  function onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void {
    const chunks: Buffer[] | undefined = keep ? [] : undefined;
    if (chunks !== undefined) stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    else stream.resume();
    stream.once('end', () => {
      // smtp-server answers an oversized message itself (rejectOversized).
      if (stream.sizeExceeded) return callback(null);
      const accept = (): void => {
        const raw = chunks === undefined ? undefined : Buffer.concat(chunks);
        const size = raw === undefined ? stream.byteLength : raw.length;
        if (simpleParser === undefined || raw === undefined) {
          callback(null, `2.0.0 Ok: queued as ${record(session, size, raw, undefined)}`);
          return;
        }
        simpleParser(raw).then(
          (parsed) => callback(null, `2.0.0 Ok: queued as ${record(session, size, raw, parsed)}`),
          // Hostile or broken MIME is still accepted, as a real MTA would; it just has no `parsed`.
          () => callback(null, `2.0.0 Ok: queued as ${record(session, size, raw, undefined)}`),
        );
      };
      const rule = take('data', session.envelope.rcptTo.map((a) => a.address));
      if (rule === undefined) accept();
      else answer(rule, session, accept, (err) => callback(err));
    });
  }

  const serverOptions: SMTPServerOptions = {
    secure,
    name: o.name ?? 'localhost',
    banner: 'mailpush test sink',
    logger: o.logger ?? false,
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: true,
    lenientAddressParsing: o.lenientAddresses ?? false,
    disabledCommands: [...(o.auth ? [] : ['AUTH']), ...((o.disableStartTls ?? o.tls === undefined) ? ['STARTTLS'] : [])],
    authOptional: o.auth === undefined,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    ...(o.maxSize !== undefined ? { size: o.maxSize, rejectOversized: true } : {}),
    ...(o.tls !== undefined ? { key: o.tls.key, cert: o.tls.cert } : {}),
    onAuth(auth, _session, callback) {
      if (o.auth !== undefined && auth.username === o.auth.user && auth.password === o.auth.pass) {
        return callback(null, { user: auth.username });
      }
      const err: ReplyError = new Error('5.7.8 Authentication credentials invalid');
      err.responseCode = 535;
      callback(err);
    },
    onRcptTo(address, session, callback) {
      const rcpt = address.address;
      const key = rcpt.toLowerCase();
      attempts.set(key, (attempts.get(key) ?? 0) + 1);
      const rule = take('rcpt', [rcpt]);
      if (rule === undefined) return callback();
      answer(rule, session, () => callback(), (err) => callback(err));
    },
    onData,
  };

  const server: SMTPServer = new Server(serverOptions);
  // Client sockets that fail (a reset during the DATA stream) surface as server 'error'
  // events; without a listener they would crash the test process.
  server.on('error', () => {});
  const connections = new Connections(server.server);
  const port = await listenOn(
    server.server,
    host,
    o.port ?? 0,
    (err) => new MailError(`SMTP sink could not listen on ${host}:${o.port ?? 0}: ${err.message}`, { code: MailErrorCode.CONFIG, option: 'port', cause: err }),
    (p, h, cb) => server.listen(p, h, cb),
  );
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    host,
    port,
    secure,
    url: `${secure ? 'smtps' : 'smtp'}://${urlHost}:${port}`,
    get messages() {
      return messages;
    },
    get count() {
      return count;
    },
    get bytes() {
      return bytes;
    },
    get attemptsByRecipient() {
      return attempts;
    },
    attempts(addr) {
      return attempts.get(addr.toLowerCase()) ?? 0;
    },
    addRule(rule) {
      rules.push(checkRule(rule, 'rule'));
    },
    failNext(n = 1, fault = 'tempfail') {
      rules.unshift(checkRule({ match: () => true, reply: fault, stage: 'data', times: n }, 'failNext'));
    },
    waitFor(target, timeoutMs = 5000) {
      return waits.waitFor(target, timeoutMs);
    },
    reset() {
      messages = [];
      count = 0;
      bytes = 0;
      attempts = new Map();
      armInitialRules();
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        waits.close('SMTP sink closed while waiting for messages');
        server.close(() => resolve());
        // server.close() alone waits up to 30 s for sessions to end; tests want it now.
        connections.destroyAll();
      });
      return closing;
    },
  };
}


/**
 * Composite transports: {@link failover} (use the first healthy member) and
 * {@link roundRobin} (spread sends over the healthy members by weight). Both keep a health
 * record per member: a member that fails in a way that says it is unhealthy is marked down
 * for a cooldown, skipped meanwhile, and tried again afterwards (half-open recovery).
 *
 * @module
 */

import { configError, describeValue, MailError, MailErrorCode, toMailError } from '../errors.js';
import type { MailErrorOptions } from '../errors.js';
import { TokenBucket } from '../queue/token-bucket.js';
import { systemClock } from '../types.js';
import type { Clock, PreparedMessage, SendResult, Transport, TransportCapabilities, TransportSendContext } from '../types.js';

/** Default name of a {@link failover} transport. */
export const FAILOVER_NAME = 'failover';

/** Default name of a {@link roundRobin} transport. */
export const ROUND_ROBIN_NAME = 'round-robin';

/** Default time a failing member stays down, in milliseconds. */
export const DEFAULT_COOLDOWN_MS = 30_000;

/** What {@link CompositeOptions.onHealthChange} receives. */
export interface HealthChangeEvent {
  /** Name of the member. */
  readonly transport: string;
  /** False when the member went down, true when a send through it succeeded again. */
  readonly healthy: boolean;
  /** While down: the time it will be tried again, ms since epoch. */
  readonly until?: number;
  /** While down: the error that took it down. */
  readonly error?: MailError;
}

/** Options of {@link failover} and {@link roundRobin}. */
export interface CompositeOptions {
  /** Transport name, used in the mailer's events and on the errors it rejects with. @default 'failover' or 'round-robin' */
  readonly name?: string;
  /**
   * Time a failing member stays down, in milliseconds. A pause or a transport-wide throttle
   * keeps it down for the error's `retryAfterMs` when that is longer.
   * @default 30_000
   */
  readonly cooldownMs?: number;
  /** Time source for cooldowns and member rate limits. @default systemClock */
  readonly clock?: Clock;
  /**
   * Called when a member goes down (once per outage, and once more after each failed
   * recovery try) or comes back, for logs and metrics. Runs synchronously; what it throws is
   * ignored so that observing can never break sending.
   */
  readonly onHealthChange?: (event: HealthChangeEvent) => void;
}

/** A member of a {@link roundRobin} with its share of the sends. */
export interface WeightedTransport {
  /** The member. */
  readonly transport: Transport;
  /** Relative share of the sends, a positive finite number (a plain transport in the list has weight 1). */
  readonly weight: number;
}

/** Health of one member, as reported by {@link CompositeTransport.health}. */
export interface MemberHealth {
  /** Member name. */
  readonly name: string;
  /**
   * False from the failure that took it down until a send through it succeeds again (a member
   * whose `downUntil` has passed is tried by the next send but still reported unhealthy).
   */
  readonly healthy: boolean;
  /** While unhealthy: when it is (or was) to be tried again, ms since epoch. */
  readonly downUntil?: number;
}

/** A transport that sends through one of several member transports. */
export interface CompositeTransport extends Transport {
  /** The member transports, in the order given. */
  readonly members: readonly Transport[];
  /** Health of every member, in order. */
  health(): MemberHealth[];
  /**
   * Verifies every member at once; rejects only when none verifies, naming each failure. A
   * member that fails is marked down, one that verifies is marked healthy; a member without
   * `verify()` counts as verified.
   */
  verify(): Promise<void>;
  /** Closes every member (a failure to close one does not stop the others). Idempotent. */
  close(): Promise<void>;
}

/**
 * What a composite does after a member failed, see {@link memberFailureAction}:
 * - `abort`: the send was aborted; reject at once.
 * - `reject`: the error is about this message, a recipient or a recipient domain, not about
 *   the member; reject with it and leave the member healthy.
 * - `down-and-reject`: the member is unhealthy but may have accepted the message; mark it
 *   down and reject so that the mailer retries on its own schedule.
 * - `failover`: the member is unhealthy and certainly did not take the message; mark it down
 *   and try the next member at once.
 */
export type MemberFailureAction = 'abort' | 'reject' | 'down-and-reject' | 'failover';

// Failures of a member itself that happen before any byte of a message goes out: wrong
// credentials, TLS setup, a missing SDK, member options, a member closed on its own.
const MEMBER_SETUP_CODES: ReadonlySet<MailErrorCode> = new Set<MailErrorCode>([
  MailErrorCode.AUTH,
  MailErrorCode.TLS,
  MailErrorCode.CLOSED,
  MailErrorCode.CONFIG,
  MailErrorCode.MISSING_DEPENDENCY,
]);

// Categories of retryable replies that concern the recipient, not the sending side: another
// transport would get the same answer.
const RECIPIENT_CATEGORIES: ReadonlySet<string> = new Set(['mailboxfull', 'userunknown', 'hostunknown', 'hasmoved']);

// Codes found on the underlying error (Node, nodemailer, undici) that can only arise while a
// connection is being set up: nothing of the message was sent yet.
const SETUP_FAILURE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EAI_NODATA',
  'EDNS',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'EPROXY',
  'ETLS',
  'EREQUIRETLS',
  'EAUTH',
  'UND_ERR_CONNECT_TIMEOUT',
  // nodemailer `timeoutType`s of the setup phases (SOCKET_TIMEOUT, the idle one, is not here).
  'CONNECT_TIMEOUT',
  'GREETING_TIMEOUT',
  'UPGRADE_TIMEOUT',
]);

const CAUSE_DEPTH = 6;

/** True when something on the cause chain of `error` names a connection-setup failure. */
function failedDuringSetup(error: MailError): boolean {
  let current: unknown = error.cause;
  for (let depth = 0; depth < CAUSE_DEPTH && typeof current === 'object' && current !== null; depth++) {
    const c = current as Record<string, unknown>;
    for (const key of ['code', 'originalCode', 'timeoutType']) {
      const value = c[key];
      if (typeof value === 'string' && SETUP_FAILURE_CODES.has(value)) return true;
    }
    current = c.cause;
  }
  return false;
}

/**
 * True when a retryable failure proves that the member did not take the message: the server
 * or API answered with a refusal (a 4xx reply or status, SMTP/HTTP 503), the provider said
 * the account is paused or throttled as a whole, or the connection never got as far as
 * sending anything (see {@link memberFailureAction}).
 */
function provesNonDelivery(error: MailError): boolean {
  if (error.code === MailErrorCode.TRANSPORT_PAUSED || error.code === MailErrorCode.THROTTLED) return true;
  const status = error.responseCode;
  if (status !== undefined && ((status >= 400 && status <= 499) || status === 503)) return true;
  return failedDuringSetup(error);
}

/**
 * Decides what a composite transport does after a member rejected a send. Exported so that
 * the rule can be read, tested and reused; the composites apply it as is.
 *
 * The rule, in order:
 * 1. `ABORTED` -> `abort`.
 * 2. `THROTTLED` without `scope: 'transport'` (SMTP 421 4.7.28 from Gmail) concerns the
 *    recipient domain: `reject`, the mailer slows that domain down.
 * 3. An error about one recipient (`recipient` set, or a retryable reply of category
 *    `mailboxfull`, `userunknown`, `hostunknown`, `hasmoved`) -> `reject`.
 * 4. `AUTH`, `TLS`, `CLOSED`, `CONFIG`, `MISSING_DEPENDENCY`: the member cannot send at all
 *    and refused before any byte of the message went out -> `failover`.
 * 5. Any other non-retryable error (a permanent refusal of the message or its recipients)
 *    -> `reject`: another transport must not be used to get around a refusal.
 * 6. A retryable error that proves non-delivery -> `failover`: `TRANSPORT_PAUSED`,
 *    `THROTTLED` with `scope: 'transport'`, a reply code 400-499 or 503 (an SMTP 4xx reply,
 *    HTTP 429/408, a 503), or an underlying error (the `cause` chain: `code`,
 *    `originalCode`, nodemailer's `timeoutType`) from connection setup: `ECONNREFUSED`,
 *    DNS failures (`ENOTFOUND`, `EAI_AGAIN`, `EDNS`), unreachable host or network, TLS
 *    setup, undici's connect timeout, nodemailer's connect/greeting/STARTTLS timeouts.
 * 7. Any other retryable error is ambiguous -> `down-and-reject`: a socket timeout or reset
 *    while the message was being written or after the final dot, an HTTP 500/502/504, a
 *    failure without any detail. The member may have accepted the message, so sending it
 *    through another member at once could deliver it twice. The mailer retries it on its
 *    schedule (by then the member is down, so the retry goes elsewhere); like any
 *    at-least-once mailer, that retry may still duplicate a message the member did accept.
 *
 * @example
 * ```ts
 * import { MailError, MailErrorCode, memberFailureAction } from 'mailpush';
 *
 * memberFailureAction(new MailError('535 5.7.8 auth failed', { code: MailErrorCode.AUTH })); // 'failover'
 * memberFailureAction(new MailError('550 5.1.1 user unknown', { code: MailErrorCode.PERMANENT, recipient: 'ann@example.org' })); // 'reject'
 * ```
 */
export function memberFailureAction(error: MailError): MemberFailureAction {
  const code = error.code;
  if (code === MailErrorCode.ABORTED) return 'abort';
  if (code === MailErrorCode.THROTTLED && error.scope !== 'transport') return 'reject';
  if (error.recipient !== undefined) return 'reject';
  if (MEMBER_SETUP_CODES.has(code)) return 'failover';
  if (!error.retryable) return 'reject';
  if (error.category !== undefined && RECIPIENT_CATEGORIES.has(error.category)) return 'reject';
  return provesNonDelivery(error) ? 'failover' : 'down-and-reject';
}

// ---------------------------------------------------------------------------------------
// Members
// ---------------------------------------------------------------------------------------

interface Member {
  readonly transport: Transport;
  readonly name: string;
  readonly weight: number;
  /** The member is itself a composite: its results name the transport that really sent. */
  readonly composite: boolean;
  readonly maxConcurrency: number;
  readonly bucket: TokenBucket | undefined;
  /** Smooth weighted round-robin state. */
  current: number;
  /** Set while the member is unhealthy; once passed, the next send tries it. */
  downUntil: number | undefined;
  /** Bumped at every failure, so a success that started before a failure does not revive it. */
  epoch: number;
  /** Sends in flight that try the member after its cooldown. */
  probes: number;
  inflight: number;
}

/** How a composite picks among the members able to take a send. */
interface Strategy {
  /** Picks one of the candidates (never called with none). */
  readonly pick: (candidates: readonly Member[]) => Member;
  /** Pass over a member with its `maxConcurrency` sends in flight while another has room. */
  readonly spillOnConcurrency: boolean;
}

const FIELDS_TO_COPY = ['responseCode', 'enhancedStatus', 'response', 'retryAfterMs', 'category', 'recipient', 'option', 'scope'] as const;

function isTransport(value: unknown): value is Transport {
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Partial<Transport>;
  return (
    typeof t.name === 'string' &&
    t.name !== '' &&
    typeof t.send === 'function' &&
    typeof t.capabilities === 'object' &&
    t.capabilities !== null &&
    typeof t.capabilities.rawMime === 'boolean'
  );
}

function isComposite(t: Transport): boolean {
  const c = t as Partial<CompositeTransport>;
  return Array.isArray(c.members) && typeof c.health === 'function';
}

function checkOptions(options: unknown): CompositeOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const o = options as CompositeOptions;
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name.trim() === '' || o.name.length > 200)) {
    throw configError('name', 'a non-empty string of at most 200 characters', o.name);
  }
  if (o.cooldownMs !== undefined && !(typeof o.cooldownMs === 'number' && Number.isFinite(o.cooldownMs) && o.cooldownMs >= 0)) {
    throw configError('cooldownMs', 'a finite number of milliseconds >= 0', o.cooldownMs);
  }
  if (o.clock !== undefined && (typeof o.clock !== 'object' || o.clock === null || typeof o.clock.now !== 'function')) {
    throw configError('clock', 'a Clock (an object with now())', o.clock);
  }
  if (o.onHealthChange !== undefined && typeof o.onHealthChange !== 'function') {
    throw configError('onHealthChange', 'a function', o.onHealthChange);
  }
  return o;
}

function limitOf(value: number | undefined): number {
  return value !== undefined && value > 0 ? value : Infinity;
}

function toMembers(entries: readonly { transport: Transport; weight: number }[], now: number): Member[] {
  const names = new Map<string, number>();
  return entries.map(({ transport, weight }, i) => {
    const seen = names.get(transport.name);
    if (seen !== undefined) {
      throw configError(
        `transports[${i}].name`,
        `a name no other member has (transports[${seen}] is also named ${describeValue(transport.name)}; give each its own name: smtpTransport({ transportName }), sesTransport({ name }) or namedTransport(t, name))`,
        transport.name,
      );
    }
    names.set(transport.name, i);
    const rate = limitOf(transport.capabilities.ratePerSecond);
    return {
      transport,
      name: transport.name,
      weight,
      composite: isComposite(transport),
      maxConcurrency: limitOf(transport.capabilities.maxConcurrency),
      bucket: Number.isFinite(rate) ? new TokenBucket(rate, Math.max(1, rate), now) : undefined,
      current: 0,
      downUntil: undefined,
      epoch: 0,
      probes: 0,
      inflight: 0,
    };
  });
}

/** Capabilities of the whole: what every member can take, and the sum of their limits. */
function combineCapabilities(members: readonly Member[]): TransportCapabilities {
  const whole = members.map((m) => m.transport.capabilities.wholeMessage === true);
  const mixed = whole.indexOf(!whole[0]);
  if (mixed !== -1) {
    const a = members[0]!;
    const b = members[mixed]!;
    throw new MailError(
      `Expected \`transports\` to all take whole messages or all take one recipient domain per send, got ${describeValue(a.name)} ` +
        `with wholeMessage ${whole[0]} and ${describeValue(b.name)} with wholeMessage ${whole[mixed]}: the mailer splits a message ` +
        'into one job per recipient domain or into a single job depending on this capability, so no job could go to both kinds',
      { code: MailErrorCode.CONFIG, option: `transports[${mixed}].capabilities.wholeMessage` },
    );
  }
  let concurrency = 0;
  let rate = 0;
  for (const m of members) {
    concurrency += m.maxConcurrency;
    rate += m.bucket?.rate ?? Infinity;
  }
  return Object.freeze({
    rawMime: members.every((m) => m.transport.capabilities.rawMime),
    ...(whole[0] === true ? { wholeMessage: true } : {}),
    ...(Number.isFinite(concurrency) ? { maxConcurrency: concurrency } : {}),
    ...(Number.isFinite(rate) ? { ratePerSecond: rate } : {}),
  });
}

// Failover passes over a member only when its rate is used up: sending faster would provoke
// throttles, while sends beyond its concurrency just wait in its own queue (an SMTP pool),
// which keeps the next member for outages.
const FIRST_HEALTHY: Strategy = { pick: (candidates) => candidates[0]!, spillOnConcurrency: false };

/** Smooth weighted round-robin (nginx): every candidate gains its weight, the leader pays the total. */
function pickSmoothWeighted(candidates: readonly Member[]): Member {
  let total = 0;
  let best: Member | undefined;
  for (const m of candidates) {
    m.current += m.weight;
    total += m.weight;
    if (best === undefined || m.current > best.current) best = m;
  }
  best!.current -= total;
  return best!;
}

const SMOOTH_WEIGHTED: Strategy = { pick: pickSmoothWeighted, spillOnConcurrency: true };

function createComposite(kind: string, entries: readonly { transport: Transport; weight: number }[], options: unknown, strategy: Strategy): CompositeTransport {
  const o = checkOptions(options);
  const name = o.name ?? kind;
  const clock = o.clock ?? systemClock;
  const cooldownMs = o.cooldownMs ?? DEFAULT_COOLDOWN_MS;
  const onHealthChange = o.onHealthChange;
  const members = toMembers(entries, clock.now());
  const capabilities = combineCapabilities(members);
  const transports = Object.freeze(members.map((m) => m.transport));
  let closed = false;
  let closing: Promise<void> | undefined;

  function notify(event: HealthChangeEvent): void {
    if (onHealthChange === undefined) return;
    try {
      onHealthChange(event);
    } catch {
      // Observing must not break sending.
    }
  }

  function markDown(m: Member, error: MailError, now: number): void {
    const scoped = error.code === MailErrorCode.TRANSPORT_PAUSED || (error.code === MailErrorCode.THROTTLED && error.scope === 'transport');
    const until = now + (scoped ? Math.max(cooldownMs, error.retryAfterMs ?? 0) : cooldownMs);
    const wasUp = m.downUntil === undefined || m.downUntil <= now;
    m.epoch++;
    m.downUntil = wasUp ? until : Math.max(until, m.downUntil!);
    if (wasUp) notify({ transport: m.name, healthy: false, until: m.downUntil, error });
  }

  function markUp(m: Member, epoch: number): void {
    if (m.downUntil === undefined || m.epoch !== epoch) return;
    m.downUntil = undefined;
    notify({ transport: m.name, healthy: true });
  }

  function busy(m: Member, now: number): boolean {
    return (strategy.spillOnConcurrency && m.inflight >= m.maxConcurrency) || (m.bucket !== undefined && m.bucket.waitMs(now) > 0);
  }

  // Members able to take this send, best group first: healthy and within their own limits;
  // healthy but at a limit; being tried after a cooldown by another send (a last resort, so
  // that one probe at a time tests a recovering member while others have a choice).
  function select(tried: ReadonlySet<Member> | undefined, now: number): Member | undefined {
    let free: Member[] | undefined;
    let full: Member[] | undefined;
    let probing: Member[] | undefined;
    for (const m of members) {
      if (tried?.has(m)) continue;
      if (m.downUntil !== undefined) {
        if (m.downUntil > now) continue;
        if (m.probes > 0) {
          (probing ??= []).push(m);
          continue;
        }
      }
      if (busy(m, now)) (full ??= []).push(m);
      else (free ??= []).push(m);
    }
    const group = free ?? full ?? probing;
    return group === undefined ? undefined : strategy.pick(group);
  }

  function earliestReturn(now: number): number {
    let at = Infinity;
    for (const m of members) if (m.downUntil !== undefined && m.downUntil < at) at = m.downUntil;
    return Math.max(1, Math.ceil(at - now));
  }

  function relabel(error: MailError, member: string): MailError {
    const fields: { -readonly [K in keyof MailErrorOptions]: MailErrorOptions[K] } = {
      code: error.code,
      retryable: error.retryable,
      transport: name,
      cause: error,
    };
    for (const key of FIELDS_TO_COPY) if (error[key] !== undefined) (fields as Record<string, unknown>)[key] = error[key];
    return new MailError(`${member}: ${error.message}`, fields as MailErrorOptions);
  }

  function pausedError(now: number, cause?: MailError): MailError {
    const retryAfterMs = earliestReturn(now);
    const detail = cause === undefined ? '' : `; last error: ${cause.message}`;
    return new MailError(`Every member of ${name} is down; the first comes back in ${retryAfterMs} ms${detail}`, {
      code: MailErrorCode.TRANSPORT_PAUSED,
      retryable: true,
      transport: name,
      scope: 'transport',
      retryAfterMs,
      ...(cause !== undefined ? { cause } : {}),
    });
  }

  function abortedError(signal: AbortSignal, cause?: unknown): MailError {
    return new MailError(`Send through ${name} was aborted`, { code: MailErrorCode.ABORTED, transport: name, cause: cause ?? signal.reason });
  }

  async function send(prepared: PreparedMessage, context: TransportSendContext): Promise<SendResult> {
    if (closed) throw new MailError(`Transport ${name} is closed`, { code: MailErrorCode.CLOSED, transport: name });
    const signal = context.signal;
    if (signal.aborted) throw abortedError(signal);
    let tried: Set<Member> | undefined;
    let last: { error: MailError; member: Member } | undefined;
    let lastRetryable: { error: MailError; member: Member } | undefined;
    for (;;) {
      const now = clock.now();
      const m = select(tried, now);
      if (m === undefined) break;
      (tried ??= new Set()).add(m);
      const probe = m.downUntil !== undefined;
      const epoch = m.epoch;
      m.inflight++;
      if (probe) m.probes++;
      m.bucket?.take();
      let result: SendResult | undefined;
      let error: MailError | undefined;
      try {
        result = await m.transport.send(prepared, context);
        if (typeof result !== 'object' || result === null || !Array.isArray(result.accepted) || !Array.isArray(result.rejected)) {
          // Unknown whether it sent: treated as ambiguous by the rule below.
          error = new MailError(`Transport ${m.name} resolved with an invalid result: ${describeValue(result)}`, {
            code: MailErrorCode.INTERNAL,
            retryable: true,
            transport: m.name,
          });
        }
      } catch (err) {
        error = toMailError(err);
      } finally {
        m.inflight--;
        if (probe) m.probes--;
      }
      if (error === undefined) {
        markUp(m, epoch);
        const sentBy = m.composite ? (result!.transport ?? m.name) : m.name;
        return result!.transport === sentBy ? result! : { ...result!, transport: sentBy };
      }
      if (signal.aborted) throw error.code === MailErrorCode.ABORTED ? relabel(error, m.name) : abortedError(signal, error);
      const action = memberFailureAction(error);
      if (action === 'abort' || action === 'reject') throw relabel(error, m.name);
      markDown(m, error, clock.now());
      if (action === 'down-and-reject') throw relabel(error, m.name);
      last = { error, member: m };
      if (error.retryable) lastRetryable = last;
    }
    const now = clock.now();
    if (last === undefined) throw pausedError(now);
    const final = lastRetryable ?? last;
    // A member's pause or account throttle is about that member: the composite as a whole is
    // only paused until its first member comes back.
    if (final.error.scope === 'transport') throw pausedError(now, final.error);
    throw relabel(final.error, final.member.name);
  }

  async function verify(): Promise<void> {
    if (closed) throw new MailError(`Transport ${name} is closed`, { code: MailErrorCode.CLOSED, transport: name });
    const epochs = members.map((m) => m.epoch);
    const outcomes = await Promise.allSettled(members.map((m) => Promise.resolve().then(() => m.transport.verify?.())));
    const failures: { member: Member; error: MailError }[] = [];
    outcomes.forEach((outcome, i) => {
      const m = members[i]!;
      if (outcome.status === 'fulfilled') {
        markUp(m, epochs[i]!);
      } else {
        const error = toMailError(outcome.reason);
        failures.push({ member: m, error });
        markDown(m, error, clock.now());
      }
    });
    if (failures.length < members.length) return;
    const first = failures[0]!.error;
    throw new MailError(`No member of ${name} verified: ${failures.map((f) => `${f.member.name}: ${f.error.message}`).join('; ')}`, {
      code: first.code,
      retryable: failures.some((f) => f.error.retryable),
      transport: name,
      cause: new AggregateError(failures.map((f) => f.error), 'Every member failed to verify'),
    });
  }

  function close(): Promise<void> {
    closed = true;
    closing ??= Promise.allSettled(members.map((m) => Promise.resolve().then(() => m.transport.close?.()))).then((outcomes) => {
      const failed = outcomes.flatMap((outcome, i) => (outcome.status === 'rejected' ? [{ member: members[i]!, error: toMailError(outcome.reason) }] : []));
      if (failed.length === 0) return;
      throw new MailError(`Closing ${name} failed for ${failed.map((f) => `${f.member.name} (${f.error.message})`).join(', ')}`, {
        code: failed[0]!.error.code,
        transport: name,
        cause: failed.length === 1 ? failed[0]!.error : new AggregateError(failed.map((f) => f.error)),
      });
    });
    return closing;
  }

  return {
    name,
    capabilities,
    members: transports,
    send,
    verify,
    close,
    health() {
      return members.map((m) => (m.downUntil === undefined ? { name: m.name, healthy: true } : { name: m.name, healthy: false, downUntil: m.downUntil }));
    },
  };
}

function checkList(transports: unknown): readonly unknown[] {
  if (!Array.isArray(transports) || transports.length === 0) throw configError('transports', 'a non-empty array of transports', transports);
  return transports;
}

const TRANSPORT_EXPECTED = 'a Transport (an object with a non-empty `name`, `capabilities` with boolean `rawMime`, and `send()`)';

/**
 * Sends through the first healthy member, in the order given.
 *
 * A member that fails in a way that says it is unhealthy (see {@link memberFailureAction})
 * is marked down for `cooldownMs` (or the error's `retryAfterMs` when longer, for a paused
 * account or an account-wide throttle). When the failure proves the message was not taken
 * (connection refused, DNS, TLS, credentials, a 4xx reply, an ESP pause or throttle), the
 * same send moves on to the next healthy member at once. When it is ambiguous (a timeout or
 * a reset while the message was being written), the send is rejected so that the mailer
 * retries it later, through another member since this one is now down: failing over at once
 * could deliver it twice. Errors about the message, a recipient or a recipient domain
 * (permanent refusals, SMTP 421 4.7.28) never fail over. Per-recipient refusals in a result
 * are passed through as they are.
 *
 * After the cooldown, the next send tries the member again (one send at a time while others
 * have a choice); a success marks it healthy. When every member is down the send rejects
 * with a retryable `TRANSPORT_PAUSED` (`scope: 'transport'`, `retryAfterMs` until the first
 * member comes back); when every member failed it rejects with the last (retryable) error.
 * Rejections name the composite as `transport` and start with the member's name; the
 * member's own error is the `cause`. `SendResult.transport` names the member that sent.
 *
 * Capabilities: `rawMime` when every member takes raw MIME (so the mailer DKIM-signs only
 * then); `wholeMessage` must be the same for all members; `maxConcurrency` and
 * `ratePerSecond` are the sums of the members' (unlimited if any member is). A member whose
 * own `ratePerSecond` is used up is passed over, without being marked down, so that the
 * summed rate spills over to the next member instead of provoking throttles (when every
 * member is out of rate the first healthy one gets the send anyway); sends beyond a member's
 * `maxConcurrency` still go to it and wait in its own queue. To keep the other members for
 * outages only, also when the first one has a rate limit, give the mailer that member's
 * limits in `limits.transport`.
 *
 * @throws MailError `CONFIG` for an empty list, a value that is not a transport, two members
 * with one name, mixed `wholeMessage` members or invalid options.
 *
 * @example
 * ```ts
 * const transport = failover([
 *   sesTransport({ region: 'eu-west-1' }),
 *   smtpTransport({ host: 'smtp.backup.example', port: 587, auth }),
 * ], { onHealthChange: (e) => log.warn(e, 'transport health') });
 * const mailer = createMailer({ transport });
 * mailer.on('sent', (e) => metrics.increment(`sent.${e.sentBy}`));
 * ```
 */
export function failover(transports: readonly Transport[], options?: CompositeOptions): CompositeTransport {
  const entries = checkList(transports).map((t, i) => {
    if (!isTransport(t)) throw configError(`transports[${i}]`, TRANSPORT_EXPECTED, t);
    return { transport: t, weight: 1 };
  });
  return createComposite(FAILOVER_NAME, entries, options, FIRST_HEALTHY);
}

/**
 * Spreads sends over the healthy members by weight, with nginx's smooth weighted round-robin
 * (weights 5, 1, 1 give a a b a c a a, not a a a a a b c). A plain transport has weight 1.
 *
 * Health, failover of a failed send to the next member, ambiguous failures, half-open
 * recovery, errors and capabilities work as for {@link failover}; a member with its own
 * `maxConcurrency` sends in flight or its `ratePerSecond` used up is passed over while another
 * has room.
 *
 * @throws MailError `CONFIG` as {@link failover} does, and for a weight that is not a
 * positive finite number.
 *
 * @example
 * ```ts
 * const transport = roundRobin([
 *   { transport: sesTransport({ region: 'us-east-1' }), weight: 3 },
 *   { transport: sendgridTransport({ apiKey }), weight: 1 },
 * ]);
 * ```
 */
export function roundRobin(transports: readonly (Transport | WeightedTransport)[], options?: CompositeOptions): CompositeTransport {
  const entries = checkList(transports).map((entry, i) => {
    if (isTransport(entry)) return { transport: entry, weight: 1 };
    if (typeof entry !== 'object' || entry === null || !('transport' in entry)) throw configError(`transports[${i}]`, `${TRANSPORT_EXPECTED} or { transport, weight }`, entry);
    const { transport, weight = 1 } = entry as Partial<WeightedTransport>;
    if (!isTransport(transport)) throw configError(`transports[${i}].transport`, TRANSPORT_EXPECTED, transport);
    if (!(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) throw configError(`transports[${i}].weight`, 'a positive finite number', weight);
    return { transport, weight };
  });
  return createComposite(ROUND_ROBIN_NAME, entries, options, SMOOTH_WEIGHTED);
}

/**
 * A transport that delivers into an array: for tests, examples and dispatch benchmarks.
 * O(1) per send and no MIME composition unless asked for, so it measures the mailer
 * rather than itself.
 *
 * @module
 */

import { configError, MailError, MailErrorCode, toMailError } from '../errors.js';
import { FaultInjector } from './faults.js';
import { systemClock } from '../types.js';
import type {
  Clock,
  NormalizedMessage,
  PreparedMessage,
  RejectedRecipient,
  SendResult,
  TimerHandle,
  Transport,
  TransportCapabilities,
  TransportSendContext,
} from '../types.js';

/** Name of this transport. */
export const TRANSPORT_NAME = 'memory';

/** Options of {@link memoryTransport}. */
export interface MemoryTransportOptions {
  /** Transport name, for tests that use several memory transports (failover). @default 'memory' */
  readonly name?: string;
  /** Delay of every send, in milliseconds, on top of the fault injector's latency. @default 0 */
  readonly latencyMs?: number;
  /** Clock for the latency timers and the `at` timestamps. @default systemClock */
  readonly clock?: Clock;
  /** Fault injector to use. @default a new, empty one (see {@link MemoryTransport.faults}) */
  readonly faults?: FaultInjector;
  /** Compose the MIME bytes of each message and keep them in {@link SentMail.raw}. @default false */
  readonly composeRaw?: boolean;
  /** Keep a {@link SentMail} record of every send; with false only {@link MemoryTransport.count} moves. @default true */
  readonly record?: boolean;
  /** Capabilities to announce, merged over `{ rawMime: true }`. @default {} */
  readonly capabilities?: Partial<TransportCapabilities>;
}

/** A message the memory transport accepted. */
export interface SentMail {
  readonly jobId: string;
  readonly message: NormalizedMessage;
  /** Envelope of the send; `to` holds the accepted recipients only. */
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  /** Id given back in the {@link SendResult}. */
  readonly providerMessageId: string;
  /** When the send completed, ms since epoch (from the clock). */
  readonly at: number;
  /** Name of the transport that accepted it. */
  readonly transport: string;
  /** Attempt number of the send. */
  readonly attempt: number;
  /** The composed MIME message, with `composeRaw: true`. */
  readonly raw?: Buffer;
}

/** The memory transport: a {@link Transport} plus what it received. */
export interface MemoryTransport extends Transport {
  /** Messages accepted so far, in order of completion. Empty with `record: false`. */
  readonly sent: readonly SentMail[];
  /** Number of messages accepted so far (counted with `record: false` too). */
  readonly count: number;
  /** The fault injector: script failures and latency here. */
  readonly faults: FaultInjector;
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** Forgets the messages received (not the faults). */
  clear(): void;
}

const REF_TIMERS: Pick<Clock, 'setTimeout' | 'clearTimeout'> = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const NO_REJECTIONS: readonly RejectedRecipient[] = Object.freeze([]);

function checkOptions(options: unknown): MemoryTransportOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const o = options as MemoryTransportOptions;
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) throw configError('name', 'a non-empty string', o.name);
  if (o.latencyMs !== undefined && !(typeof o.latencyMs === 'number' && Number.isFinite(o.latencyMs) && o.latencyMs >= 0)) {
    throw configError('latencyMs', 'a finite number >= 0', o.latencyMs);
  }
  if (o.clock !== undefined && (typeof o.clock !== 'object' || o.clock === null || typeof o.clock.now !== 'function' || typeof o.clock.setTimeout !== 'function' || typeof o.clock.clearTimeout !== 'function')) {
    throw configError('clock', 'a Clock with now, setTimeout and clearTimeout', o.clock);
  }
  if (o.faults !== undefined && !(o.faults instanceof FaultInjector)) throw configError('faults', 'a FaultInjector', o.faults);
  for (const key of ['composeRaw', 'record'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw configError(key, 'a boolean', o[key]);
  }
  if (o.capabilities !== undefined && (typeof o.capabilities !== 'object' || o.capabilities === null)) {
    throw configError('capabilities', 'an object', o.capabilities);
  }
  return o;
}

/**
 * Creates a memory transport.
 *
 * @example
 * ```ts
 * const transport = memoryTransport();
 * transport.faults.failNext(1, 'throttle-gmail');
 * // ... send through a mailer, then:
 * expect(transport.sent.map((m) => m.envelope.to)).toEqual([['ann@example.com']]);
 * ```
 */
export default function memoryTransport(options?: MemoryTransportOptions): MemoryTransport {
  const o = checkOptions(options);
  const name = o.name ?? TRANSPORT_NAME;
  const clock = o.clock ?? systemClock;
  // A send waiting out its latency is pending work: unlike the mailer's own timers (unref'ed
  // system clock) it must keep a script alive until it settles.
  const timers: Pick<Clock, 'setTimeout' | 'clearTimeout'> = o.clock ?? REF_TIMERS;
  const baseLatencyMs = o.latencyMs ?? 0;
  const faults = o.faults ?? new FaultInjector();
  const composeRaw = o.composeRaw ?? false;
  const record = o.record ?? true;
  const capabilities: TransportCapabilities = Object.freeze({ rawMime: true, ...o.capabilities });

  let sent: SentMail[] = [];
  let count = 0;
  let seq = 0;
  let closed = false;

  // Throws the MailError of a refused send; otherwise records it and returns the result.
  function deliver(prepared: PreparedMessage, attempt: number, raw: Buffer | undefined): SendResult {
    let accepted = prepared.envelope.to;
    let rejected = NO_REJECTIONS;
    if (faults.active) {
      const fault = faults.takeFault(prepared, name);
      if (fault !== undefined) throw fault;
      if (faults.hasRecipientRules) {
        const ok: string[] = [];
        const refused: RejectedRecipient[] = [];
        for (const address of accepted) {
          const error = faults.takeRecipientFault(address, name);
          if (error === undefined) ok.push(address);
          else refused.push({ address, error });
        }
        if (ok.length === 0 && refused.length > 0) {
          // Like SMTP: refusing every recipient is a rejection. A retryable refusal wins so
          // that deferred recipients are not failed for good together with unknown ones.
          throw (refused.find((r) => r.error.retryable) ?? refused[0]!).error;
        }
        accepted = ok;
        rejected = refused;
      }
    }
    const providerMessageId = `${name}-${++seq}`;
    count++;
    if (record) {
      const mail: SentMail = {
        jobId: prepared.jobId,
        message: prepared.message,
        envelope: accepted === prepared.envelope.to ? prepared.envelope : { from: prepared.envelope.from, to: accepted },
        providerMessageId,
        at: clock.now(),
        transport: name,
        attempt,
        ...(raw !== undefined ? { raw } : {}),
      };
      sent.push(mail);
    }
    return { providerMessageId, response: `250 2.0.0 Ok: queued as ${providerMessageId}`, accepted, rejected, transport: name };
  }

  function closedError(): MailError {
    return new MailError(`Transport ${name} is closed`, { code: MailErrorCode.CLOSED, transport: name });
  }

  function abortedError(signal: AbortSignal): MailError {
    return new MailError(`Send through ${name} was aborted`, { code: MailErrorCode.ABORTED, transport: name, cause: signal.reason });
  }

  function wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let handle: TimerHandle | undefined;
      const onAbort = (): void => {
        if (handle !== undefined) timers.clearTimeout(handle);
        reject(abortedError(signal));
      };
      handle = timers.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async function slowSend(prepared: PreparedMessage, context: TransportSendContext, latencyMs: number): Promise<SendResult> {
    const { signal } = context;
    try {
      if (latencyMs > 0) await wait(latencyMs, signal);
      const raw = composeRaw ? await prepared.raw() : undefined;
      if (signal.aborted) throw abortedError(signal);
      return deliver(prepared, context.attempt, raw);
    } catch (err) {
      // User predicates and latency functions of the fault injector may throw anything.
      throw toMailError(err);
    }
  }

  return {
    name,
    capabilities,
    faults,
    get sent() {
      return sent;
    },
    get count() {
      return count;
    },
    get closed() {
      return closed;
    },
    clear() {
      sent = [];
      count = 0;
    },
    send(prepared, context) {
      if (closed) return Promise.reject(closedError());
      if (context.signal.aborted) return Promise.reject(abortedError(context.signal));
      try {
        const latencyMs = faults.active ? baseLatencyMs + faults.latencyFor(prepared) : baseLatencyMs;
        if (latencyMs > 0 || composeRaw) return slowSend(prepared, context, latencyMs);
        return Promise.resolve(deliver(prepared, context.attempt, undefined));
      } catch (err) {
        return Promise.reject(toMailError(err));
      }
    },
    verify() {
      return closed ? Promise.reject(closedError()) : Promise.resolve();
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
}

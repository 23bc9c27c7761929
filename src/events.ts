/**
 * Typed events of the mailer. Events are for observing; they are emitted synchronously and
 * a throwing listener never breaks delivery.
 *
 * @module
 */

import { toMailError } from './errors.js';
import type { MailError } from './errors.js';
import type { FeedbackEvent } from './feedback/event.js';
import type { CampaignEvent, ComplaintRateEvent } from './campaigns/types.js';
import type { MessageCategory, Priority } from './types.js';

/** Fields every job event carries. */
export interface JobEventBase {
  /** Job id. */
  readonly jobId: string;
  /** Internal message id (`msg_...`). */
  readonly id: string;
  /** RFC 5322 Message-ID, with angle brackets. */
  readonly messageId: string;
  /** Recipient domain of the job. */
  readonly domain: string;
  /** Recipients concerned by this event. */
  readonly recipients: readonly string[];
  /** Attempts counted so far (throttled attempts do not count). */
  readonly attempt: number;
  readonly priority: Priority;
  readonly category: MessageCategory;
  /** Transport name. */
  readonly transport: string;
  /** The message's tags. */
  readonly tags: Readonly<Record<string, string>>;
  /** The host's metadata given with the message. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The message's campaign id (undefined when it has none). */
  readonly campaign?: string | undefined;
}

/** A job entered the queue. */
export interface QueuedEvent extends JobEventBase {
  /** When it becomes due, ms since epoch. */
  readonly runAt: number;
}

/** A job is being handed to the transport. */
export type SendingEvent = JobEventBase;

/** The transport accepted the recipients of the event. */
export interface SentEvent extends JobEventBase {
  /** Transport that actually sent (for composite transports). */
  readonly sentBy: string;
  readonly response?: string;
  readonly providerMessageId?: string;
  /** Time from queueing (or from sendAt) to acceptance, in ms. */
  readonly latencyMs: number;
}

/** The recipients of the event failed temporarily and will be retried. */
export interface DeferredEvent extends JobEventBase {
  /** When the next attempt is due, ms since epoch. */
  readonly retryAt: number;
  readonly error: MailError;
  /** True when the deferral is a throttle (the attempt is not counted). */
  readonly throttled: boolean;
}

/** Why a job ended without delivery. */
export type FailureReason = 'permanent' | 'expired' | 'aborted' | 'suppressed' | 'invalid';

/** The recipients of the event will not be delivered. Final. */
export interface FailedEvent extends JobEventBase {
  readonly reason: FailureReason;
  readonly error: MailError;
  /**
   * A permanent problem with the address itself (unknown user or domain, moved): the host
   * should suppress it. Policy, reputation and mailbox-full failures are never hard.
   */
  readonly hard: boolean;
}

/**
 * Sending was slowed down or paused after a throttling response: for one recipient domain
 * (SMTP 421 4.7.28, 451 4.7.500, TSS04) or for the whole transport (an ESP account rate
 * limit or a paused account).
 */
export interface ThrottledEvent {
  /** What was slowed down. */
  readonly scope: 'domain' | 'transport';
  /** Recipient domain of the job that got the response (the slowed domain when `scope` is 'domain'). */
  readonly domain: string;
  readonly transport: string;
  /** Sends resume at this time, ms since epoch. */
  readonly pausedUntil: number;
  /** Rate in force after the pause, per second. */
  readonly ratePerSecond: number;
  /** Concurrency in force after the pause. */
  readonly concurrency: number;
  /** The response that triggered it. */
  readonly error: MailError;
}

/** A job accepted by an earlier run (before a crash or a restart) is back in the queue. */
export interface RecoveredEvent extends JobEventBase {
  /** When it becomes due, ms since epoch. */
  readonly runAt: number;
  /** When the earlier run accepted it, ms since epoch. */
  readonly createdAt: number;
}

/** Nothing is queued, scheduled or in flight. */
export interface IdleEvent {
  /** Time of the event, ms since epoch. */
  readonly at: number;
}

/** An internal failure that lost nothing but deserves attention (a store write failed, a listener threw). */
export interface ErrorEvent {
  readonly error: MailError;
  /** Where it happened (`store.update`, `listener:sent`, ...). */
  readonly context: string;
}

/** Why a transport is down: see {@link TransportDownEvent}. */
export type TransportDownReason = 'dns' | 'connect' | 'tls' | 'auth';

/**
 * The transport itself cannot send: its host name does not resolve (`dns`), the connection is
 * refused or the host unreachable (`connect`), TLS cannot be set up (`tls`), or the
 * credentials were refused (`auth`). Emitted once when it goes down (a `transportUp` follows
 * when a send or `verify()` succeeds again). While a connection cannot be made, sends are
 * paused (1 s, doubling up to 1 min between tries; the waiting messages spend no attempts);
 * refused credentials and certificate failures fail each message at once with their error.
 */
export interface TransportDownEvent {
  /** Transport name. */
  readonly transport: string;
  readonly reason: TransportDownReason;
  /** The failure that took it down. */
  readonly error: MailError;
  /** Time of the event, ms since epoch. */
  readonly at: number;
  /** When sends are tried again, ms since epoch; absent when messages fail at once (`auth`, a certificate failure). */
  readonly retryAt?: number;
}

/** The transport sends again after a {@link TransportDownEvent}. */
export interface TransportUpEvent {
  /** Transport name. */
  readonly transport: string;
  /** Why it had been down. */
  readonly reason: TransportDownReason;
  /** Time of the event, ms since epoch. */
  readonly at: number;
  /** How long it was down, in ms. */
  readonly downForMs: number;
}

/** Map of event names to payloads. */
export interface MailerEvents {
  queued: QueuedEvent;
  /** A job accepted before a restart was read back from the store and queued again. */
  recovered: RecoveredEvent;
  sending: SendingEvent;
  sent: SentEvent;
  deferred: DeferredEvent;
  failed: FailedEvent;
  throttled: ThrottledEvent;
  idle: IdleEvent;
  error: ErrorEvent;
  /** The transport cannot connect or authenticate (emitted once per outage). */
  transportDown: TransportDownEvent;
  /** The transport sends again after a `transportDown`. */
  transportUp: TransportUpEvent;
  /** Feedback processed through `mailer.feedback` (delivered, bounced, complained, opened, ...). */
  feedback: FeedbackEvent;
  /** A campaign's progress (throttled) or a change of its state: see `mailer.campaign(id)`. */
  campaign: CampaignEvent;
  /** The complaint-rate guard warned about a From domain, paused its marketing mail, or was resumed. */
  complaintRate: ComplaintRateEvent;
}

/** A listener of event `K`. */
export type MailerListener<K extends keyof MailerEvents> = (event: MailerEvents[K]) => void;

/**
 * A small typed event emitter. Listeners run synchronously in registration order; one that
 * throws is reported as an `error` event (or ignored when it was an `error` listener) so
 * that observing can never break delivery.
 */
export class TypedEmitter {
  private readonly listeners: { [K in keyof MailerEvents]?: MailerListener<K>[] } = {};

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): () => void {
    // Lists are replaced, never changed in place: `emit` walks the list it read without a copy,
    // and a listener added or removed meanwhile takes effect from the next emit.
    const list = this.listeners[event] as MailerListener<K>[] | undefined;
    (this.listeners as Record<K, MailerListener<K>[]>)[event] = list === undefined ? [listener] : [...list, listener];
    return () => this.off(event, listener);
  }

  /** Adds a listener called at most once. */
  once<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): () => void {
    const off = this.on(event, (e) => {
      off();
      listener(e);
    });
    return off;
  }

  /** Removes a listener. */
  off<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): void {
    const list = this.listeners[event] as MailerListener<K>[] | undefined;
    if (list === undefined) return;
    const i = list.indexOf(listener);
    if (i >= 0) (this.listeners as Record<K, MailerListener<K>[]>)[event] = [...list.slice(0, i), ...list.slice(i + 1)];
  }

  /** True when someone listens to `event` (lets the mailer skip building payloads). */
  has(event: keyof MailerEvents): boolean {
    const list = this.listeners[event];
    return list !== undefined && list.length > 0;
  }

  /** Calls the listeners of `event`. */
  emit<K extends keyof MailerEvents>(event: K, payload: MailerEvents[K]): void {
    const list = this.listeners[event] as MailerListener<K>[] | undefined;
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      try {
        (list[i] as MailerListener<K>)(payload);
      } catch (err) {
        if (event !== 'error') this.emit('error', { error: toMailError(err), context: `listener:${event}` });
      }
    }
  }
}

import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { classifiedError } from '../../src/classify/index.js';
import { MailError, MailErrorCode, isMailError } from '../../src/errors.js';
import type { SentEvent } from '../../src/events.js';
import { createMailer } from '../../src/mailer/index.js';
import { allRecipients, normalizeMessage } from '../../src/message/index.js';
import { prepareMessage } from '../../src/message/prepared.js';
import { createTestClock } from '../../src/testing/clock.js';
import type { TestClock } from '../../src/testing/clock.js';
import { testTransport } from '../../src/testing/conformance.js';
import type { Fault } from '../../src/transports/faults.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import {
  DEFAULT_COOLDOWN_MS,
  FAILOVER_NAME,
  ROUND_ROBIN_NAME,
  failover,
  memberFailureAction,
  roundRobin,
} from '../../src/transports/composite.js';
import type { CompositeTransport, HealthChangeEvent } from '../../src/transports/composite.js';
import memoryTransport from '../../src/transports/memory.js';
import type { MemoryTransport, MemoryTransportOptions } from '../../src/transports/memory.js';
import smtpTransport from '../../src/transports/smtp.js';
import type { MessageInput, PreparedMessage, SendResult, Transport, TransportCapabilities, TransportSendContext } from '../../src/types.js';

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

let seq = 0;
function prepare(input: Partial<MessageInput> = {}): PreparedMessage {
  const message = normalizeMessage({ from: 'app@example.com', to: 'ann@example.com', subject: 'Hi', text: 'Hello', ...input }, { now: 1_700_000_000_000 });
  return prepareMessage(`job_${++seq}`, message, { from: message.returnPath, to: allRecipients(message) });
}
const ctx = (signal: AbortSignal = new AbortController().signal): TransportSendContext => ({ signal, attempt: 1 });

async function failure(promise: Promise<unknown>): Promise<MailError> {
  const err = await promise.then(
    (r) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(r)}`);
    },
    (e: unknown) => e,
  );
  expect(isMailError(err), String(err)).toBe(true);
  return err as MailError;
}

/** A memory transport whose next sends can also reject with errors of our own (scope, cause). */
interface Scripted extends Transport {
  readonly inner: MemoryTransport;
  readonly calls: number;
  failNext(...errors: MailError[]): Scripted;
  verify(): Promise<void>;
  close(): Promise<void>;
}

function scripted(name: string, options: Omit<MemoryTransportOptions, 'name'> = {}): Scripted {
  const inner = memoryTransport({ name, ...options });
  const queue: MailError[] = [];
  let calls = 0;
  const t: Scripted = {
    name,
    capabilities: inner.capabilities,
    inner,
    get calls() {
      return calls;
    },
    failNext(...errors) {
      queue.push(...errors);
      return t;
    },
    send(prepared, context) {
      calls++;
      const error = queue.shift();
      return error === undefined ? inner.send(prepared, context) : Promise.reject(error);
    },
    verify: () => inner.verify!(),
    close: () => inner.close!(),
  };
  return t;
}

function pair(clock: TestClock, options: Omit<MemoryTransportOptions, 'name' | 'clock'> = {}): [Scripted, Scripted] {
  return [scripted('primary', { clock, ...options }), scripted('secondary', { clock, ...options })];
}

/** What nodemailer rejects with when nothing listens on the port. */
function refused(transport = 'primary'): MailError {
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2525'), { code: 'ESOCKET', originalCode: 'ECONNREFUSED', command: 'CONN' });
  return classifiedError({ errorCode: 'ECONNREFUSED', text: cause.message }, { transport, cause });
}

function paused(retryAfterMs?: number): MailError {
  return new MailError('Sending paused for this account', {
    code: MailErrorCode.TRANSPORT_PAUSED,
    scope: 'transport',
    transport: 'primary',
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

function accountThrottle(retryAfterMs: number): MailError {
  return new MailError('429 Too Many Requests', { code: MailErrorCode.THROTTLED, scope: 'transport', responseCode: 429, retryAfterMs, transport: 'primary' });
}

function recorder(): { events: HealthChangeEvent[]; onHealthChange: (e: HealthChangeEvent) => void } {
  const events: HealthChangeEvent[] = [];
  return { events, onHealthChange: (e) => events.push(e) };
}

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const faultsOnEveryMember = (t: CompositeTransport) => ({
  failNext(count: number, fault: Fault) {
    for (const m of t.members) (m as MemoryTransport).faults.failNext(count, fault);
  },
});
const deliveredByAll = (t: CompositeTransport): number => t.members.reduce((n, m) => n + (m as MemoryTransport).count, 0);

// ---------------------------------------------------------------------------------------
// Conformance
// ---------------------------------------------------------------------------------------

// cooldownMs 0: the suite sends again right after a failure of every member and expects it to go through.
testTransport({
  name: 'failover',
  create: () => failover([memoryTransport({ name: 'primary' }), memoryTransport({ name: 'secondary' })], { cooldownMs: 0 }),
  faults: faultsOnEveryMember,
  delivered: deliveredByAll,
});

testTransport({
  name: 'round-robin',
  create: () => roundRobin([memoryTransport({ name: 'a' }), { transport: memoryTransport({ name: 'b' }), weight: 2 }], { cooldownMs: 0 }),
  faults: faultsOnEveryMember,
  delivered: deliveredByAll,
});

// ---------------------------------------------------------------------------------------
// The failure rule
// ---------------------------------------------------------------------------------------

describe('memberFailureAction', () => {
  const err = (code: MailErrorCode, extra: Partial<ConstructorParameters<typeof MailError>[1]> = {}): MailError => new MailError('x', { code, ...extra });

  it('fails over on errors that prove the member did not take the message', () => {
    expect(memberFailureAction(refused())).toBe('failover');
    expect(memberFailureAction(classifiedError({ responseCode: 451, text: '451 4.3.0 Try again later' }))).toBe('failover');
    expect(memberFailureAction(classifiedError({ responseCode: 421, text: '421 4.3.2 Service shutting down' }))).toBe('failover');
    expect(memberFailureAction(paused())).toBe('failover');
    expect(memberFailureAction(accountThrottle(1000))).toBe('failover');
    expect(memberFailureAction(err(MailErrorCode.TRANSIENT, { responseCode: 503 }))).toBe('failover');
    expect(memberFailureAction(err(MailErrorCode.AUTH, { responseCode: 535 }))).toBe('failover');
    expect(memberFailureAction(err(MailErrorCode.TLS))).toBe('failover');
    expect(memberFailureAction(err(MailErrorCode.CLOSED))).toBe('failover');
    expect(memberFailureAction(err(MailErrorCode.MISSING_DEPENDENCY))).toBe('failover');
  });

  it('reads connection-setup failures from the cause chain (nodemailer, DNS, undici)', () => {
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND smtp.example'), { code: 'EDNS', originalCode: 'ENOTFOUND' });
    expect(memberFailureAction(err(MailErrorCode.CONNECTION, { cause: dns }))).toBe('failover');
    const greeting = Object.assign(new Error('Greeting never received'), { code: 'ETIMEDOUT', timeoutType: 'GREETING_TIMEOUT' });
    expect(memberFailureAction(err(MailErrorCode.TIMEOUT, { cause: greeting }))).toBe('failover');
    const undiciConnect = new TypeError('fetch failed', { cause: Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }) });
    expect(memberFailureAction(err(MailErrorCode.TIMEOUT, { cause: undiciConnect }))).toBe('failover');
  });

  it('marks the member down but does not fail over when the member may have taken the message', () => {
    const idle = Object.assign(new Error('Timeout'), { code: 'ETIMEDOUT', timeoutType: 'SOCKET_TIMEOUT', command: 'CONN' });
    expect(memberFailureAction(err(MailErrorCode.TIMEOUT, { cause: idle }))).toBe('down-and-reject');
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ESOCKET', originalCode: 'ECONNRESET' });
    expect(memberFailureAction(err(MailErrorCode.CONNECTION, { cause: reset }))).toBe('down-and-reject');
    const undiciSocket = new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    expect(memberFailureAction(err(MailErrorCode.CONNECTION, { cause: undiciSocket }))).toBe('down-and-reject');
    for (const status of [500, 502, 504]) expect(memberFailureAction(err(MailErrorCode.TRANSIENT, { responseCode: status }))).toBe('down-and-reject');
    expect(memberFailureAction(err(MailErrorCode.CONNECTION))).toBe('down-and-reject');
    expect(memberFailureAction(err(MailErrorCode.INTERNAL, { retryable: true }))).toBe('down-and-reject');
  });

  it('rejects without touching the member for message, recipient and domain problems', () => {
    expect(memberFailureAction(classifiedError({ responseCode: 554, text: '554 5.7.1 Message rejected' }))).toBe('reject');
    expect(memberFailureAction(classifiedError({ responseCode: 421, enhancedStatus: '4.7.28', text: '421 4.7.28 unusual rate of unsolicited mail' }))).toBe('reject');
    expect(memberFailureAction(err(MailErrorCode.THROTTLED, { scope: 'domain', retryAfterMs: 60_000 }))).toBe('reject');
    expect(memberFailureAction(err(MailErrorCode.TRANSIENT, { responseCode: 450, recipient: 'ann@example.com' }))).toBe('reject');
    expect(memberFailureAction(classifiedError({ responseCode: 452, text: '452 4.2.2 Mailbox full' }))).toBe('reject');
    expect(memberFailureAction(err(MailErrorCode.VALIDATION))).toBe('reject');
    expect(memberFailureAction(err(MailErrorCode.INTERNAL))).toBe('reject');
    expect(memberFailureAction(err(MailErrorCode.ABORTED))).toBe('abort');
  });

  it('stops on a cause chain that loops or nests without end', () => {
    const a: Record<string, unknown> = { code: 'X' };
    a.cause = a;
    expect(memberFailureAction(err(MailErrorCode.CONNECTION, { cause: a }))).toBe('down-and-reject');
    let deep: unknown = Object.assign(new Error('deep'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 10_000; i++) deep = { cause: deep };
    expect(memberFailureAction(err(MailErrorCode.CONNECTION, { cause: deep }))).toBe('down-and-reject');
  });
});

// ---------------------------------------------------------------------------------------
// failover
// ---------------------------------------------------------------------------------------

describe('failover', () => {
  it('sends through the first member while it is healthy and names it on the result', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    expect(t.name).toBe(FAILOVER_NAME);
    expect(t.members).toEqual([primary, secondary]);
    for (let i = 0; i < 3; i++) expect((await t.send(prepare(), ctx())).transport).toBe('primary');
    expect(primary.inner.count).toBe(3);
    expect(secondary.calls).toBe(0);
    expect(t.health()).toEqual([{ name: 'primary', healthy: true }, { name: 'secondary', healthy: true }]);
  });

  it('moves the same send to the next member at once when the connection is refused', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const health = recorder();
    const t = failover([primary, secondary], { clock, onHealthChange: health.onHealthChange });
    primary.failNext(refused());
    const prepared = prepare();
    const result = await t.send(prepared, ctx());
    expect(result.transport).toBe('secondary');
    expect(secondary.inner.sent.map((m) => m.jobId)).toEqual([prepared.jobId]);
    expect(health.events).toEqual([{ transport: 'primary', healthy: false, until: clock.now() + DEFAULT_COOLDOWN_MS, error: expect.objectContaining({ code: MailErrorCode.CONNECTION }) }]);
    expect(t.health()).toEqual([{ name: 'primary', healthy: false, downUntil: clock.now() + DEFAULT_COOLDOWN_MS }, { name: 'secondary', healthy: true }]);
  });

  it('fails over on a 451 temporary failure', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    primary.inner.faults.failNext(1, 'tempfail');
    expect((await t.send(prepare(), ctx())).transport).toBe('secondary');
    expect(t.health()[0]).toMatchObject({ healthy: false });
  });

  it('fails over on a paused account and keeps the member down for the pause when it is longer than the cooldown', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock, cooldownMs: 1000 });
    primary.failNext(paused(3_600_000));
    expect((await t.send(prepare(), ctx())).transport).toBe('secondary');
    expect(t.health()[0]).toEqual({ name: 'primary', healthy: false, downUntil: clock.now() + 3_600_000 });
    await clock.advance(1000);
    expect((await t.send(prepare(), ctx())).transport).toBe('secondary');
    expect(primary.calls).toBe(1);
  });

  it('fails over on an account-wide throttle and keeps the cooldown when it is longer than the hint', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock, cooldownMs: 5000 });
    primary.failNext(accountThrottle(2000));
    expect((await t.send(prepare(), ctx())).transport).toBe('secondary');
    expect(t.health()[0]!.downUntil).toBe(clock.now() + 5000);
  });

  it('skips a member while it is down', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    primary.failNext(refused());
    await t.send(prepare(), ctx());
    await clock.advance(DEFAULT_COOLDOWN_MS - 1);
    for (let i = 0; i < 5; i++) expect((await t.send(prepare(), ctx())).transport).toBe('secondary');
    expect(primary.calls).toBe(1);
  });

  it('tries a member again after its cooldown and marks it healthy when that send succeeds', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const health = recorder();
    const t = failover([primary, secondary], { clock, cooldownMs: 10_000, onHealthChange: health.onHealthChange });
    primary.failNext(refused());
    await t.send(prepare(), ctx());
    await clock.advance(10_000);
    expect(t.health()[0]).toEqual({ name: 'primary', healthy: false, downUntil: clock.now() });
    expect((await t.send(prepare(), ctx())).transport).toBe('primary');
    expect(health.events.map((e) => [e.transport, e.healthy])).toEqual([
      ['primary', false],
      ['primary', true],
    ]);
    expect(health.events[1]).toEqual({ transport: 'primary', healthy: true });
    expect(t.health()[0]).toEqual({ name: 'primary', healthy: true });
  });

  it('keeps a member down for another cooldown when the try after the cooldown fails', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const health = recorder();
    const t = failover([primary, secondary], { clock, cooldownMs: 10_000, onHealthChange: health.onHealthChange });
    primary.failNext(refused(), refused());
    await t.send(prepare(), ctx());
    await clock.advance(10_000);
    expect((await t.send(prepare(), ctx())).transport).toBe('secondary');
    expect(primary.calls).toBe(2);
    expect(health.events.map((e) => [e.healthy, e.until])).toEqual([
      [false, clock.now()],
      [false, clock.now() + 10_000],
    ]);
    await clock.advance(9_999);
    await t.send(prepare(), ctx());
    expect(primary.calls).toBe(2);
  });

  it('lets one send at a time try a recovering member while the others go to a healthy one', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock, cooldownMs: 1000 });
    primary.failNext(refused());
    await t.send(prepare(), ctx());
    await clock.advance(1000);
    primary.inner.faults.setLatency(100);
    const probe = t.send(prepare(), ctx());
    const others = await Promise.all([t.send(prepare(), ctx()), t.send(prepare(), ctx())]);
    expect(others.map((r) => r.transport)).toEqual(['secondary', 'secondary']);
    await clock.advance(100);
    expect((await probe).transport).toBe('primary');
    expect(t.health()[0]!.healthy).toBe(true);
  });

  it('reports an outage once when sends in flight keep failing on a member already down', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const health = recorder();
    const t = failover([primary, secondary], { clock, onHealthChange: health.onHealthChange });
    primary.inner.faults.setLatency(10).failNext(3, 'tempfail');
    const sends = [t.send(prepare(), ctx()), t.send(prepare(), ctx()), t.send(prepare(), ctx())];
    await clock.advance(10);
    expect((await Promise.all(sends)).map((r) => r.transport)).toEqual(['secondary', 'secondary', 'secondary']);
    expect(health.events).toHaveLength(1);
  });

  it('sends through a member being tried after its cooldown when no other member is up', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock, cooldownMs: 1000 });
    primary.failNext(refused());
    secondary.failNext(paused(3_600_000));
    await failure(t.send(prepare(), ctx()));
    await clock.advance(1000);
    primary.inner.faults.setLatency(100);
    const sends = [t.send(prepare(), ctx()), t.send(prepare(), ctx())];
    await clock.advance(100);
    expect((await Promise.all(sends)).map((r) => r.transport)).toEqual(['primary', 'primary']);
    expect(secondary.calls).toBe(1);
  });

  it('does not revive a member with a success that started before its failure', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    primary.inner.faults.setLatency(100);
    const slow = t.send(prepare(), ctx());
    primary.inner.faults.setLatency(0);
    primary.failNext(refused());
    expect((await t.send(prepare(), ctx())).transport).toBe('secondary');
    await clock.advance(100);
    expect((await slow).transport).toBe('primary');
    expect(t.health()[0]!.healthy).toBe(false);
  });

  it('marks the member down but rejects an ambiguous timeout instead of sending it twice', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    primary.inner.faults.failNext(1, 'timeout');
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.TIMEOUT);
    expect(err.retryable).toBe(true);
    expect(err.transport).toBe(FAILOVER_NAME);
    expect(err.message).toMatch(/^primary: /);
    expect(isMailError(err.cause) && err.cause.transport).toBe('primary');
    expect(secondary.calls).toBe(0);
    expect(t.health()[0]!.healthy).toBe(false);
    // The mailer's retry goes to the member that is still up.
    expect((await t.send(prepare(), ctx())).transport).toBe('secondary');
  });

  it('treats a connection that broke without detail as ambiguous', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    primary.inner.faults.failNext(1, 'connection');
    expect((await failure(t.send(prepare(), ctx()))).code).toBe(MailErrorCode.CONNECTION);
    expect(secondary.calls).toBe(0);
    expect(t.health()[0]!.healthy).toBe(false);
  });

  it('rejects a permanent failure as it is, without failing over or marking the member down', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const health = recorder();
    const t = failover([primary, secondary], { clock, onHealthChange: health.onHealthChange });
    primary.inner.faults.failNext(1, 'permfail');
    const err = await failure(t.send(prepare(), ctx()));
    expect(err).toMatchObject({ code: MailErrorCode.PERMANENT, retryable: false, responseCode: 554, enhancedStatus: '5.7.1', transport: FAILOVER_NAME });
    expect(secondary.calls).toBe(0);
    expect(health.events).toEqual([]);
    primary.inner.faults.failNext(1, 'recipient-unknown');
    expect((await failure(t.send(prepare(), ctx()))).enhancedStatus).toBe('5.1.1');
    expect(secondary.calls).toBe(0);
    expect(t.health()[0]!.healthy).toBe(true);
  });

  it('does not fail over on a throttle of the recipient domain (Gmail 421 4.7.28)', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    primary.inner.faults.failNext(1, 'throttle-gmail');
    const err = await failure(t.send(prepare({ to: 'ann@gmail.com' }), ctx()));
    expect(err).toMatchObject({ code: MailErrorCode.THROTTLED, retryable: true, enhancedStatus: '4.7.28' });
    expect(err.scope).not.toBe('transport');
    expect(secondary.calls).toBe(0);
    expect(t.health()[0]!.healthy).toBe(true);
  });

  it('does not fail over when every recipient is deferred by the receiving side', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    primary.inner.faults.rejectRecipients('@example.com', 'tempfail', { times: 2 });
    const err = await failure(t.send(prepare({ to: ['ann@example.com', 'bob@example.com'] }), ctx()));
    expect(err.code).toBe(MailErrorCode.TRANSIENT);
    expect(err.recipient).toBe('ann@example.com');
    expect(secondary.calls).toBe(0);
    expect(t.health()[0]!.healthy).toBe(true);
  });

  it('passes per-recipient refusals through unchanged', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    primary.inner.faults.rejectRecipients('bob@example.com', 'recipient-unknown').rejectRecipients('cy@example.com', 'tempfail');
    const direct = await primary.inner.send(prepare({ to: ['ann@example.com', 'bob@example.com', 'cy@example.com'] }), ctx());
    primary.inner.faults.rejectRecipients('bob@example.com', 'recipient-unknown').rejectRecipients('cy@example.com', 'tempfail');
    const result = await t.send(prepare({ to: ['ann@example.com', 'bob@example.com', 'cy@example.com'] }), ctx());
    expect(result.accepted).toEqual(['ann@example.com']);
    expect(result.rejected.map((r) => [r.address, r.error.code, r.error.transport])).toEqual(direct.rejected.map((r) => [r.address, r.error.code, 'primary']));
    expect(secondary.calls).toBe(0);
    expect(t.health()[0]!.healthy).toBe(true);
  });

  it('rejects with TRANSPORT_PAUSED until the first member comes back when every member is down', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock, cooldownMs: 10_000 });
    primary.failNext(refused());
    await t.send(prepare(), ctx());
    await clock.advance(4000);
    secondary.failNext(refused('secondary'));
    const first = await failure(t.send(prepare(), ctx()));
    expect(first.code).toBe(MailErrorCode.CONNECTION); // the last error, retryable
    expect(first.message).toMatch(/^secondary: /);
    const err = await failure(t.send(prepare(), ctx()));
    expect(err).toMatchObject({ code: MailErrorCode.TRANSPORT_PAUSED, retryable: true, scope: 'transport', retryAfterMs: 6000, transport: FAILOVER_NAME });
    expect(primary.calls + secondary.calls).toBe(3);
  });

  it('rejects with the last retryable error when every member failed', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    primary.inner.faults.failNext(1, 'tempfail');
    secondary.failNext(new MailError('535 5.7.8 Authentication credentials invalid', { code: MailErrorCode.AUTH, responseCode: 535, transport: 'secondary' }));
    const err = await failure(t.send(prepare(), ctx()));
    expect(err).toMatchObject({ code: MailErrorCode.TRANSIENT, retryable: true, responseCode: 451 });
    expect(err.message).toMatch(/^primary: /);
    expect(t.health().map((h) => h.healthy)).toEqual([false, false]);
  });

  it('reports a member pause that ends the run as a pause of the whole, until the first member returns', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock, cooldownMs: 1000 });
    primary.inner.faults.failNext(1, 'tempfail');
    secondary.failNext(paused(3_600_000));
    const err = await failure(t.send(prepare(), ctx()));
    expect(err).toMatchObject({ code: MailErrorCode.TRANSPORT_PAUSED, scope: 'transport', retryAfterMs: 1000 });
    expect(isMailError(err.cause) && err.cause.retryAfterMs).toBe(3_600_000);
  });

  it('fails over when a member refuses our credentials', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    primary.failNext(new MailError('535 5.7.8 Authentication failed', { code: MailErrorCode.AUTH, responseCode: 535 }));
    expect((await t.send(prepare(), ctx())).transport).toBe('secondary');
  });

  it('rejects an already-aborted send and stops at once when a send is aborted', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], { clock });
    const gone = new AbortController();
    gone.abort();
    expect((await failure(t.send(prepare(), ctx(gone.signal)))).code).toBe(MailErrorCode.ABORTED);
    expect(primary.calls + secondary.calls).toBe(0);

    primary.inner.faults.setLatency(1000);
    const controller = new AbortController();
    const pending = t.send(prepare(), ctx(controller.signal));
    controller.abort(new Error('user cancelled'));
    const err = await failure(pending);
    expect(err.code).toBe(MailErrorCode.ABORTED);
    expect(err.transport).toBe(FAILOVER_NAME);
    expect(secondary.calls).toBe(0);
    expect(t.health()[0]!.healthy).toBe(true);
  });

  it('does not fail over when a member turns an abort into another error', async () => {
    const clock = createTestClock();
    const [, secondary] = pair(clock);
    const controller = new AbortController();
    const primary: Transport = {
      name: 'primary',
      capabilities: { rawMime: true },
      send: () => {
        controller.abort();
        return Promise.reject(refused());
      },
    };
    const t = failover([primary, secondary], { clock });
    expect((await failure(t.send(prepare(), ctx(controller.signal)))).code).toBe(MailErrorCode.ABORTED);
    expect(secondary.calls).toBe(0);
    expect(t.health()[0]!.healthy).toBe(true);
  });

  it('treats an invalid result as ambiguous and a thrown plain error as an internal failure', async () => {
    const clock = createTestClock();
    const [, secondary] = pair(clock);
    const bad: Transport = { name: 'bad', capabilities: { rawMime: true }, send: () => Promise.resolve(null as unknown as SendResult) };
    const t = failover([bad, secondary], { clock });
    const err = await failure(t.send(prepare(), ctx()));
    expect(err).toMatchObject({ code: MailErrorCode.INTERNAL, retryable: true });
    expect(secondary.calls).toBe(0);
    expect(t.health()[0]!.healthy).toBe(false);

    const throwing: Transport = {
      name: 'throwing',
      capabilities: { rawMime: true },
      send: () => {
        throw new TypeError('boom');
      },
    };
    const u = failover([throwing, scripted('other')]);
    const e2 = await failure(u.send(prepare(), ctx()));
    expect(e2.code).toBe(MailErrorCode.INTERNAL);
    expect(e2.message).toContain('boom');
  });

  it('keeps sending when onHealthChange throws', async () => {
    const clock = createTestClock();
    const [primary, secondary] = pair(clock);
    const t = failover([primary, secondary], {
      clock,
      onHealthChange: () => {
        throw new Error('listener bug');
      },
    });
    primary.failNext(refused());
    expect((await t.send(prepare(), ctx())).transport).toBe('secondary');
  });

  it('names the member that really sent when a member is itself a composite', async () => {
    const clock = createTestClock();
    const a = scripted('a', { clock });
    const b = scripted('b', { clock });
    const c = scripted('c', { clock });
    const t = failover([roundRobin([a, b], { clock }), c], { clock });
    expect((await t.send(prepare(), ctx())).transport).toBe('a');
    expect((await t.send(prepare(), ctx())).transport).toBe('b');
    a.failNext(refused('a'));
    b.failNext(refused('b'));
    expect((await t.send(prepare(), ctx())).transport).toBe('c');
  });

  it('uses the name of a member over a transport field its result carries', async () => {
    const inner = memoryTransport({ name: 'old-name' });
    const renamed: Transport = { ...inner, name: 'primary' };
    const t = failover([renamed, scripted('secondary')]);
    expect((await t.send(prepare(), ctx())).transport).toBe('primary');
  });

  it('spills over to the next member when the first has used up its own rate', async () => {
    const clock = createTestClock();
    const limited = scripted('limited', { clock, capabilities: { ratePerSecond: 2 } });
    const spare = scripted('spare', { clock });
    const t = failover([limited, spare], { clock });
    const first = [];
    for (let i = 0; i < 3; i++) first.push((await t.send(prepare(), ctx())).transport);
    expect(first).toEqual(['limited', 'limited', 'spare']);
    expect(t.health().every((h) => h.healthy)).toBe(true);
    await clock.advance(500);
    expect((await t.send(prepare(), ctx())).transport).toBe('limited');
  });

  it('sends to the first member even when every member is out of rate', async () => {
    const clock = createTestClock();
    const t = failover([scripted('primary', { clock, capabilities: { ratePerSecond: 1 } }), scripted('secondary', { clock, capabilities: { ratePerSecond: 1 } })], { clock });
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await t.send(prepare(), ctx())).transport);
    expect(order).toEqual(['primary', 'secondary', 'primary', 'primary']);
  });

  it('keeps sending to the first member beyond its concurrency (its own queue holds them)', async () => {
    const clock = createTestClock();
    const primary = scripted('primary', { clock, latencyMs: 100, capabilities: { maxConcurrency: 2 } });
    const secondary = scripted('secondary', { clock, latencyMs: 100, capabilities: { maxConcurrency: 2 } });
    const t = failover([primary, secondary], { clock });
    expect(t.capabilities.maxConcurrency).toBe(4);
    const sends = [t.send(prepare(), ctx()), t.send(prepare(), ctx()), t.send(prepare(), ctx())];
    await clock.advance(100);
    expect((await Promise.all(sends)).map((r) => r.transport)).toEqual(['primary', 'primary', 'primary']);
  });

  it('tries every one of many members in order in one send', async () => {
    const members = Array.from({ length: 1000 }, (_, i) => scripted(`m${i}`));
    for (const m of members.slice(0, 999)) m.failNext(refused(m.name));
    const t = failover(members);
    expect((await t.send(prepare(), ctx())).transport).toBe('m999');
    expect(t.health().filter((h) => !h.healthy)).toHaveLength(999);
  });
});

// ---------------------------------------------------------------------------------------
// Over real SMTP
// ---------------------------------------------------------------------------------------

describe('failover over SMTP', () => {
  it('fails over at once from an SMTP server that refuses connections', async () => {
    const port = await closedPort();
    const smtp = smtpTransport({ host: '127.0.0.1', port, connectionTimeoutMs: 2000 });
    const secondary = scripted('secondary');
    const t = failover([smtp, secondary]);
    try {
      const result = await t.send(prepare(), ctx());
      expect(result.transport).toBe('secondary');
      expect(t.health()[0]).toMatchObject({ name: 'smtp', healthy: false });
    } finally {
      await t.close();
    }
  });

  it('does not resend through another member when the SMTP server never answers the final dot', async () => {
    const sink = await startSmtpSink({ rules: [{ match: () => true, reply: 'timeout', stage: 'data' }] });
    const smtp = smtpTransport({ host: sink.host, port: sink.port, ignoreTLS: true, socketTimeoutMs: 300 });
    const secondary = scripted('secondary');
    const t = failover([smtp, secondary]);
    try {
      const err = await failure(t.send(prepare(), ctx()));
      expect(err.code).toBe(MailErrorCode.TIMEOUT);
      expect(secondary.calls).toBe(0);
      expect(t.health()[0]!.healthy).toBe(false);
    } finally {
      await t.close();
      await sink.close();
    }
  });

  it('fails over when the SMTP server answers 451 to the message', async () => {
    const sink = await startSmtpSink({ rules: [{ match: () => true, reply: 'tempfail', stage: 'data', times: 1 }] });
    const smtp = smtpTransport({ host: sink.host, port: sink.port, ignoreTLS: true });
    const secondary = scripted('secondary');
    const t = failover([smtp, secondary]);
    try {
      expect((await t.send(prepare(), ctx())).transport).toBe('secondary');
      expect(sink.count).toBe(0);
    } finally {
      await t.close();
      await sink.close();
    }
  });
});

// ---------------------------------------------------------------------------------------
// roundRobin
// ---------------------------------------------------------------------------------------

describe('roundRobin', () => {
  it('spreads 1,000 sends by weight', async () => {
    const a = scripted('a');
    const b = scripted('b');
    const c = scripted('c');
    const t = roundRobin([{ transport: a, weight: 3 }, b, { transport: c, weight: 0.5 }]);
    expect(t.name).toBe(ROUND_ROBIN_NAME);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const r = await t.send(prepare(), ctx());
      counts[r.transport!] = (counts[r.transport!] ?? 0) + 1;
    }
    expect(Math.abs(counts.a! - (1000 * 3) / 4.5)).toBeLessThanOrEqual(10);
    expect(Math.abs(counts.b! - 1000 / 4.5)).toBeLessThanOrEqual(10);
    expect(Math.abs(counts.c! - 500 / 4.5)).toBeLessThanOrEqual(10);
  });

  it('interleaves smoothly rather than in bursts', async () => {
    const t = roundRobin([{ transport: scripted('a'), weight: 5 }, scripted('b'), scripted('c')]);
    const order: string[] = [];
    for (let i = 0; i < 7; i++) order.push((await t.send(prepare(), ctx())).transport!);
    expect(order.join(' ')).toBe('a a b a c a a');
  });

  it('skips members that are down and takes them back after the cooldown', async () => {
    const clock = createTestClock();
    const a = scripted('a', { clock });
    const b = scripted('b', { clock });
    const health = recorder();
    const t = roundRobin([a, b], { clock, cooldownMs: 1000, onHealthChange: health.onHealthChange });
    a.failNext(refused('a'));
    expect((await t.send(prepare(), ctx())).transport).toBe('b'); // moved on at once
    for (let i = 0; i < 6; i++) expect((await t.send(prepare(), ctx())).transport).toBe('b');
    expect(a.calls).toBe(1);
    await clock.advance(1000);
    const after: string[] = [];
    for (let i = 0; i < 4; i++) after.push((await t.send(prepare(), ctx())).transport!);
    expect(after.filter((n) => n === 'a')).toHaveLength(2);
    expect(health.events.map((e) => `${e.transport}:${e.healthy}`)).toEqual(['a:false', 'a:true']);
  });

  it('passes over a member with its concurrency in flight while another has room', async () => {
    const clock = createTestClock();
    const a = scripted('a', { clock, latencyMs: 100, capabilities: { maxConcurrency: 1 } });
    const b = scripted('b', { clock, latencyMs: 100, capabilities: { maxConcurrency: 1 } });
    const t = roundRobin([{ transport: a, weight: 10 }, b], { clock });
    const sends = [t.send(prepare(), ctx()), t.send(prepare(), ctx()), t.send(prepare(), ctx())];
    await clock.advance(100);
    // The third finds both full and goes where the weights say.
    expect((await Promise.all(sends)).map((r) => r.transport)).toEqual(['a', 'b', 'a']);
    expect(t.health().every((h) => h.healthy)).toBe(true);
  });

  it('applies the same failure rule as failover', async () => {
    const t = roundRobin([scripted('a'), scripted('b')]);
    const [a, b] = t.members as Scripted[];
    a!.inner.faults.failNext(1, 'permfail');
    expect((await failure(t.send(prepare(), ctx()))).code).toBe(MailErrorCode.PERMANENT);
    expect(b!.calls).toBe(0);
    b!.inner.faults.failNext(1, 'timeout');
    expect((await failure(t.send(prepare(), ctx()))).code).toBe(MailErrorCode.TIMEOUT);
    expect(a!.calls).toBe(1);
    expect(t.health().map((h) => h.healthy)).toEqual([true, false]);
  });

  it('rejects with TRANSPORT_PAUSED when every member is down', async () => {
    const clock = createTestClock();
    const t = roundRobin([scripted('a', { clock }), scripted('b', { clock })], { clock, cooldownMs: 2000 });
    for (const m of t.members as Scripted[]) m.failNext(refused(m.name));
    expect((await failure(t.send(prepare(), ctx()))).code).toBe(MailErrorCode.CONNECTION);
    await clock.advance(500);
    expect(await failure(t.send(prepare(), ctx()))).toMatchObject({ code: MailErrorCode.TRANSPORT_PAUSED, retryAfterMs: 1500 });
  });

  it('refuses weights that are not positive finite numbers', () => {
    const bad = [0, -1, NaN, Infinity, '2', null];
    for (const weight of bad) {
      expect(() => roundRobin([{ transport: scripted('a'), weight: weight as number }])).toThrow(
        expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'transports[0].weight' }),
      );
    }
    expect(() => roundRobin([{ transport: {} as Transport, weight: 1 }])).toThrow(expect.objectContaining({ option: 'transports[0].transport' }));
    expect(() => roundRobin([42 as unknown as Transport])).toThrow(expect.objectContaining({ option: 'transports[0]' }));
  });
});

// ---------------------------------------------------------------------------------------
// Capabilities, options, verify, close
// ---------------------------------------------------------------------------------------

describe('composite capabilities', () => {
  const withCaps = (name: string, capabilities: Partial<TransportCapabilities>): MemoryTransport => memoryTransport({ name, capabilities });

  it('sums the member limits and takes raw MIME only when every member does', () => {
    const t = failover([withCaps('a', { maxConcurrency: 5, ratePerSecond: 14 }), withCaps('b', { maxConcurrency: 3, ratePerSecond: 100 })]);
    expect(t.capabilities).toEqual({ rawMime: true, maxConcurrency: 8, ratePerSecond: 114 });
    expect(Object.isFrozen(t.capabilities)).toBe(true);
    const mixed = roundRobin([withCaps('a', { maxConcurrency: 5, rawMime: false }), withCaps('b', { ratePerSecond: 10 })]);
    expect(mixed.capabilities).toEqual({ rawMime: false });
  });

  it('announces wholeMessage when every member takes whole messages', () => {
    const t = failover([withCaps('a', { wholeMessage: true, rawMime: false }), withCaps('b', { wholeMessage: true, rawMime: false })]);
    expect(t.capabilities.wholeMessage).toBe(true);
  });

  it('refuses to mix members that take whole messages with ones that do not, saying why', () => {
    const make = () => failover([withCaps('smtp-relay', {}), withCaps('sendgrid', { wholeMessage: true, rawMime: false })]);
    expect(make).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'transports[1].capabilities.wholeMessage' }));
    expect(make).toThrow(/"smtp-relay" with wholeMessage false and "sendgrid" with wholeMessage true: the mailer splits/);
  });
});

describe('composite options', () => {
  const ok = (): Transport[] => [scripted('a'), scripted('b')];

  it('refuses an empty or missing list and values that are not transports', () => {
    for (const value of [[], undefined, null, 'smtp', {}]) {
      expect(() => failover(value as unknown as Transport[])).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'transports' }));
    }
    for (const entry of [null, {}, { name: 'x', send: () => undefined }, { name: '', send: () => undefined, capabilities: { rawMime: true } }, 'smtp']) {
      expect(() => failover([scripted('a'), entry as unknown as Transport])).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'transports[1]' }));
    }
  });

  it('refuses two members with one name, naming both', () => {
    const make = () => failover([scripted('smtp'), scripted('other'), scripted('smtp')]);
    expect(make).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'transports[2].name' }));
    expect(make).toThrow(/transports\[0\] is also named "smtp"/);
    const same = scripted('x');
    expect(() => roundRobin([same, same])).toThrow(expect.objectContaining({ option: 'transports[1].name' }));
    const huge = 'n'.repeat(100_000);
    expect(() => failover([scripted(huge), scripted(huge)])).toThrow(expect.objectContaining({ message: expect.stringMatching(/^.{0,400}$/s) }));
  });

  it('refuses bad options with the option and the value in the message', () => {
    const cases: [Record<string, unknown> | string, string][] = [
      [{ cooldownMs: -1 }, 'cooldownMs'],
      [{ cooldownMs: NaN }, 'cooldownMs'],
      [{ cooldownMs: Infinity }, 'cooldownMs'],
      [{ cooldownMs: '5000' }, 'cooldownMs'],
      [{ name: '' }, 'name'],
      [{ name: 42 }, 'name'],
      [{ name: 'x'.repeat(201) }, 'name'],
      [{ clock: {} }, 'clock'],
      [{ onHealthChange: 'log' }, 'onHealthChange'],
      ['fast', 'options'],
    ];
    for (const [options, option] of cases) {
      expect(() => failover(ok(), options as never)).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option }));
      expect(() => roundRobin(ok(), options as never)).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option }));
    }
    expect(() => failover(ok(), { cooldownMs: -1 })).toThrow('Expected `cooldownMs` to be a finite number of milliseconds >= 0, got -1');
  });

  it('takes a name of its own and a cooldown of 0', async () => {
    const t = failover(ok(), { name: 'mail-out', cooldownMs: 0 });
    expect(t.name).toBe('mail-out');
    const [a] = t.members as Scripted[];
    a!.failNext(refused('a'));
    expect((await t.send(prepare(), ctx())).transport).toBe('b');
    expect((await t.send(prepare(), ctx())).transport).toBe('a');
  });
});

describe('composite verify and close', () => {
  it('verifies when one member does, and marks the failing ones down', async () => {
    const a = scripted('a');
    const b = scripted('b');
    const health = recorder();
    const t = failover([a, b], { onHealthChange: health.onHealthChange });
    await a.inner.close!();
    await expect(t.verify()).resolves.toBeUndefined();
    expect(health.events.map((e) => `${e.transport}:${e.healthy}`)).toEqual(['a:false']);
    expect(t.health().map((h) => h.healthy)).toEqual([false, true]);
  });

  it('rejects verify when no member verifies, naming each failure', async () => {
    const a = scripted('a');
    const b: Transport = { name: 'b', capabilities: { rawMime: true }, send: () => Promise.reject(new Error('unused')), verify: () => Promise.reject(refused('b')) };
    const t = roundRobin([a, b]);
    await a.inner.close!();
    const err = await failure(t.verify());
    expect(err.code).toBe(MailErrorCode.CLOSED);
    expect(err.retryable).toBe(true);
    expect(err.transport).toBe(ROUND_ROBIN_NAME);
    expect(err.message).toMatch(/^No member of round-robin verified: a: Transport a is closed; b: /);
    expect(err.cause).toBeInstanceOf(AggregateError);
  });

  it('counts a member without verify() as verified, and a later success marks a down member healthy', async () => {
    const plain: Transport = { name: 'plain', capabilities: { rawMime: true }, send: () => Promise.reject(refused('plain')) };
    const t = failover([plain, scripted('b')]);
    await t.send(prepare(), ctx());
    expect(t.health()[0]!.healthy).toBe(false);
    await t.verify();
    expect(t.health()[0]!.healthy).toBe(true);
  });

  it('closes every member once, idempotently, and refuses sends afterwards', async () => {
    const a = scripted('a');
    const b = scripted('b');
    const t = failover([a, b]);
    await Promise.all([t.close(), t.close()]);
    await t.close();
    expect(a.inner.closed && b.inner.closed).toBe(true);
    expect((await failure(t.send(prepare(), ctx()))).code).toBe(MailErrorCode.CLOSED);
    expect((await failure(t.verify())).code).toBe(MailErrorCode.CLOSED);
    expect(a.calls + b.calls).toBe(0);
  });

  it('closes the other members when one fails to close, then reports it', async () => {
    const b = scripted('b');
    const broken: Transport = { name: 'broken', capabilities: { rawMime: true }, send: () => Promise.reject(new Error('unused')), close: () => Promise.reject(new Error('socket stuck')) };
    const t = failover([broken, b]);
    const err = await failure(t.close());
    expect(err.message).toMatch(/broken \(socket stuck\)/);
    expect(b.inner.closed).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------
// Through the mailer
// ---------------------------------------------------------------------------------------

describe('failover through createMailer', () => {
  it('delivers 500 messages exactly once while the primary is down for a while, and says who sent each', async () => {
    const clock = createTestClock();
    const start = clock.now();
    const primary = memoryTransport({ name: 'primary', clock });
    const secondary = memoryTransport({ name: 'secondary', clock });
    const elapsed = (): number => clock.now() - start;
    // Down from 1 s to 2.5 s: a few ambiguous timeouts first (retried by the mailer), then
    // connection-level 451s (failed over at once).
    primary.faults
      .failWhen(() => elapsed() >= 1000 && elapsed() < 2500, 'timeout', { times: 3 })
      .failWhen(() => elapsed() >= 1000 && elapsed() < 2500, 'tempfail');
    const health = recorder();
    const transport = failover([primary, secondary], { clock, cooldownMs: 200, onHealthChange: health.onHealthChange });
    const mailer = createMailer({ transport, clock, limits: { transport: { ratePerSecond: 100 } }, retry: { scheduleMs: [1000], jitter: 0 } });
    const sent: SentEvent[] = [];
    const deferred: string[] = [];
    mailer.on('sent', (e) => sent.push(e));
    mailer.on('deferred', (e) => deferred.push(e.error.code));
    const receipts = [];
    for (let i = 0; i < 500; i++) {
      receipts.push(await mailer.send({ from: 'app@example.com', to: `user${i}@d${i % 7}.example`, subject: `Message ${i}`, text: 'Hello' }));
    }
    let idle = false;
    void mailer.onIdle().then(() => (idle = true));
    for (let step = 0; step < 2000 && !idle; step++) await clock.advance(25);
    expect(idle).toBe(true);

    const byMessage = new Map<string, string[]>();
    for (const m of [...primary.sent, ...secondary.sent]) byMessage.set(m.message.id, [...(byMessage.get(m.message.id) ?? []), m.transport]);
    expect(byMessage.size).toBe(500);
    expect([...byMessage.values()].every((list) => list.length === 1)).toBe(true);
    expect(receipts.every((r) => byMessage.has(r.id))).toBe(true);

    expect(sent).toHaveLength(500);
    for (const e of sent) {
      expect(e.transport).toBe(FAILOVER_NAME);
      expect([e.sentBy]).toEqual(byMessage.get(e.id));
    }
    const bySender = { primary: primary.count, secondary: secondary.count };
    expect(bySender.secondary).toBeGreaterThan(50);
    expect(bySender.primary).toBeGreaterThan(250);
    // The primary took mail again after the window.
    expect(primary.sent.some((m) => m.at - start >= 2500)).toBe(true);
    // The secondary only took mail while the primary was down (the window plus one cooldown).
    expect(secondary.sent.every((m) => m.at - start >= 1000 && m.at - start < 2500 + 200)).toBe(true);
    // Each ambiguous timeout was a try of the primary after a cooldown, handed back to the mailer.
    expect(deferred).toEqual([MailErrorCode.TIMEOUT, MailErrorCode.TIMEOUT, MailErrorCode.TIMEOUT]);
    expect(health.events[0]).toMatchObject({ transport: 'primary', healthy: false });
    expect(health.events.at(-1)).toMatchObject({ transport: 'primary', healthy: true });
    const reports = await Promise.all(receipts.map((r) => r.done()));
    expect(reports.every((r) => r.status === 'sent')).toBe(true);
    await mailer.close();
  });
});

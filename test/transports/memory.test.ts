import { describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import type { MailError } from '../../src/errors.js';
import { allRecipients, normalizeMessage } from '../../src/message/index.js';
import { prepareMessage } from '../../src/message/prepared.js';
import { createTestClock } from '../../src/testing/clock.js';
import { testTransport } from '../../src/testing/conformance.js';
import { FaultInjector } from '../../src/transports/faults.js';
import memoryTransport, { TRANSPORT_NAME } from '../../src/transports/memory.js';
import type { MessageInput, PreparedMessage, TransportSendContext } from '../../src/types.js';

testTransport({
  name: 'memory',
  create: () => memoryTransport(),
  faults: (t) => t.faults,
  delivered: (t) => t.count,
});

let seq = 0;
function prepare(input: Partial<MessageInput> = {}): PreparedMessage {
  const message = normalizeMessage({ from: 'app@example.com', to: 'ann@example.com', subject: 'Hi', text: 'Hello', ...input }, { now: 1_700_000_000_000 });
  return prepareMessage(`job_${++seq}`, message, { from: message.returnPath, to: allRecipients(message) });
}
const ctx = (signal: AbortSignal = new AbortController().signal, attempt = 1): TransportSendContext => ({ signal, attempt });

async function failure(promise: Promise<unknown>): Promise<MailError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(isMailError(err)).toBe(true);
  return err as MailError;
}

describe('memoryTransport', () => {
  it('records what it accepted with job, envelope, id, time from the clock and attempt', async () => {
    const clock = createTestClock(5_000);
    const t = memoryTransport({ clock });
    const prepared = prepare({ to: ['ann@example.com', 'bob@example.com'] });
    const result = await t.send(prepared, ctx(undefined, 3));
    expect(t.name).toBe(TRANSPORT_NAME);
    expect(result).toEqual({
      providerMessageId: 'memory-1',
      response: '250 2.0.0 Ok: queued as memory-1',
      accepted: ['ann@example.com', 'bob@example.com'],
      rejected: [],
      transport: 'memory',
    });
    expect(t.sent).toHaveLength(1);
    const mail = t.sent[0]!;
    expect(mail.jobId).toBe(prepared.jobId);
    expect(mail.message).toBe(prepared.message);
    expect(mail.envelope).toEqual({ from: 'app@example.com', to: ['ann@example.com', 'bob@example.com'] });
    expect(mail.at).toBe(5_000);
    expect(mail.attempt).toBe(3);
    expect(mail.transport).toBe('memory');
    expect(mail.raw).toBeUndefined();
  });

  it('uses its own name in results, records and errors', async () => {
    const t = memoryTransport({ name: 'backup' });
    const result = await t.send(prepare(), ctx());
    expect(result.transport).toBe('backup');
    expect(result.providerMessageId).toBe('backup-1');
    t.faults.failNext(1, 'tempfail');
    expect((await failure(t.send(prepare(), ctx()))).transport).toBe('backup');
  });

  it('composes the MIME bytes only with composeRaw', async () => {
    const t = memoryTransport({ composeRaw: true });
    await t.send(prepare({ subject: 'Raw please' }), ctx());
    const raw = t.sent[0]!.raw!.toString();
    expect(raw).toContain('Subject: Raw please');
    expect(raw).toContain('Hello');
  });

  it('only counts with record: false', async () => {
    const t = memoryTransport({ record: false });
    await t.send(prepare(), ctx());
    await t.send(prepare(), ctx());
    expect(t.count).toBe(2);
    expect(t.sent).toEqual([]);
  });

  it('clear() forgets the messages but keeps the faults', async () => {
    const t = memoryTransport();
    await t.send(prepare(), ctx());
    t.faults.failNext(1);
    t.clear();
    expect(t.sent).toEqual([]);
    expect(t.count).toBe(0);
    await failure(t.send(prepare(), ctx()));
  });

  it('announces raw MIME and takes capability overrides', () => {
    expect(memoryTransport().capabilities).toEqual({ rawMime: true });
    expect(memoryTransport({ capabilities: { wholeMessage: true, maxConcurrency: 3 } }).capabilities).toEqual({
      rawMime: true,
      wholeMessage: true,
      maxConcurrency: 3,
    });
  });

  it('waits latencyMs on the injected clock before accepting', async () => {
    const clock = createTestClock(0);
    const t = memoryTransport({ clock, latencyMs: 1_000 });
    let done = false;
    const p = t.send(prepare(), ctx()).then(() => (done = true));
    await clock.advance(999);
    expect(done).toBe(false);
    expect(t.count).toBe(0);
    await clock.advance(1);
    await p;
    expect(t.sent[0]!.at).toBe(1_000);
  });

  it('adds the fault injector latency, fixed or per message', async () => {
    const clock = createTestClock(0);
    const t = memoryTransport({ clock, latencyMs: 10 });
    t.faults.setLatency((p) => (p.envelope.to[0] === 'slow@example.com' ? 500 : 0));
    const slow = t.send(prepare({ to: 'slow@example.com' }), ctx());
    const fast = t.send(prepare({ to: 'fast@example.com' }), ctx());
    await clock.advance(10);
    await fast;
    expect(t.sent.map((m) => m.envelope.to[0])).toEqual(['fast@example.com']);
    await clock.advance(500);
    await slow;
    expect(t.sent.map((m) => m.at)).toEqual([10, 510]);
  });

  it('rejects with ABORTED when aborted during latency and records nothing', async () => {
    const clock = createTestClock(0);
    const t = memoryTransport({ clock, latencyMs: 1_000 });
    const controller = new AbortController();
    const p = failure(t.send(prepare(), ctx(controller.signal)));
    await clock.advance(100);
    controller.abort();
    const err = await p;
    expect(err.code).toBe(MailErrorCode.ABORTED);
    expect(clock.pending).toBe(0);
    await clock.advance(5_000);
    expect(t.count).toBe(0);
  });

  it('fails the next sends with failNext, then recovers', async () => {
    const t = memoryTransport();
    t.faults.failNext(2, 'throttle-gmail');
    const first = await failure(t.send(prepare(), ctx()));
    const second = await failure(t.send(prepare(), ctx()));
    for (const err of [first, second]) {
      expect(err.code).toBe(MailErrorCode.THROTTLED);
      expect(err.responseCode).toBe(421);
      expect(err.enhancedStatus).toBe('4.7.28');
      expect(err.retryAfterMs).toBeGreaterThanOrEqual(600_000);
    }
    await expect(t.send(prepare(), ctx())).resolves.toMatchObject({ accepted: ['ann@example.com'] });
    expect(t.count).toBe(1);
  });

  it('fails sends matching a predicate, at most `times` times', async () => {
    const t = memoryTransport();
    t.faults.failWhen((p) => p.message.subject === 'bad', 'permfail', { times: 1 });
    expect((await failure(t.send(prepare({ subject: 'bad' }), ctx()))).code).toBe(MailErrorCode.PERMANENT);
    await t.send(prepare({ subject: 'good' }), ctx());
    await t.send(prepare({ subject: 'bad' }), ctx());
    expect(t.count).toBe(2);
  });

  it('refuses some recipients and accepts the others as a partial result', async () => {
    const t = memoryTransport();
    t.faults.rejectRecipients('gone@example.com');
    const result = await t.send(prepare({ to: ['ann@example.com', 'Gone@Example.com'] }), ctx());
    expect(result.accepted).toEqual(['ann@example.com']);
    expect(result.rejected).toHaveLength(1);
    const [{ address, error }] = result.rejected as [(typeof result.rejected)[number]];
    expect(address).toBe('Gone@example.com');
    expect(error.code).toBe(MailErrorCode.PERMANENT);
    expect(error.recipient).toBe('Gone@example.com');
    expect(error.enhancedStatus).toBe('5.1.1');
    expect(t.sent[0]!.envelope.to).toEqual(['ann@example.com']);
  });

  it('rejects when every recipient is refused, preferring a retryable refusal', async () => {
    const t = memoryTransport();
    t.faults.rejectRecipients('@gone.example').rejectRecipients('*@busy.example', 'tempfail');
    const err = await failure(t.send(prepare({ to: ['a@gone.example', 'b@busy.example'] }), ctx()));
    expect(err.code).toBe(MailErrorCode.TRANSIENT);
    expect(err.recipient).toBe('b@busy.example');
    expect(t.count).toBe(0);
  });

  it('turns an exception of a user predicate into a MailError', async () => {
    const t = memoryTransport();
    t.faults.failWhen(() => {
      throw new TypeError('boom');
    });
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.INTERNAL);
    expect(err.message).toContain('boom');
  });

  it('takes a shared fault injector', async () => {
    const faults = new FaultInjector();
    const a = memoryTransport({ name: 'a', faults });
    const b = memoryTransport({ name: 'b', faults });
    faults.failNext(1);
    await failure(a.send(prepare(), ctx()));
    await expect(b.send(prepare(), ctx())).resolves.toBeDefined();
    expect(b.faults).toBe(faults);
  });

  it('verify() resolves until closed and rejects with CLOSED afterwards', async () => {
    const t = memoryTransport();
    await expect(t.verify!()).resolves.toBeUndefined();
    await t.close!();
    expect(t.closed).toBe(true);
    expect((await failure(t.verify!())).code).toBe(MailErrorCode.CLOSED);
  });

  it('sends 100,000 messages in O(1) each', async () => {
    const t = memoryTransport();
    const prepared = prepare();
    const c = ctx();
    const started = performance.now();
    for (let i = 0; i < 100_000; i++) await t.send(prepared, c);
    const elapsedMs = performance.now() - started;
    expect(t.count).toBe(100_000);
    expect(t.sent).toHaveLength(100_000);
    expect(t.sent[99_999]!.providerMessageId).toBe('memory-100000');
    // Generous bound: a linear scan per send (O(n^2) overall) takes far longer than this.
    expect(elapsedMs).toBeLessThan(3_000);
  });

  it.each([
    [{ name: '' }, 'name'],
    [{ latencyMs: -1 }, 'latencyMs'],
    [{ latencyMs: Number.NaN }, 'latencyMs'],
    [{ clock: { now: () => 0 } }, 'clock'],
    [{ faults: { failNext() {} } }, 'faults'],
    [{ composeRaw: 'yes' }, 'composeRaw'],
    [{ record: 1 }, 'record'],
    [{ capabilities: null }, 'capabilities'],
  ])('rejects bad options %o naming %s', (options, option) => {
    let caught: unknown;
    try {
      memoryTransport(options as never);
    } catch (err) {
      caught = err;
    }
    expect(isMailError(caught)).toBe(true);
    expect((caught as MailError).code).toBe(MailErrorCode.CONFIG);
    expect((caught as MailError).option).toBe(option);
  });

  it('rejects a non-object options value', () => {
    expect(() => memoryTransport('memory' as never)).toThrow(/Expected `options` to be an object/);
  });
});

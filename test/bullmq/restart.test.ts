/**
 * Redis restarted under the parts: a private redis-server (no persistence) is killed and
 * started again on the same port.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { redisState } from '../../src/bullmq/index.js';
import type { RedisState } from '../../src/bullmq/index.js';
import { testPrefix } from './helpers.js';
import { freePort } from '../helpers/ports.js';
import { startRedisServer, stopRedisServer } from '../helpers/redis-server.js';

const servers = new Set<ChildProcess>();
afterAll(() => {
  for (const s of servers) s.kill('SIGKILL');
});

async function startRedis(port: number): Promise<ChildProcess> {
  const server = await startRedisServer(port);
  servers.add(server);
  return server;
}

async function stopRedis(server: ChildProcess): Promise<void> {
  await stopRedisServer(server);
  servers.delete(server);
}

/** One call of every part, as a list of named thunks. */
function calls(state: RedisState, tag: string): [string, () => unknown][] {
  const now = Date.now();
  return [
    ['suppression.add', () => state.suppression.add({ address: `${tag}@example.com`, reason: 'manual', createdAt: now })],
    ['suppression.find', () => state.suppression.find(`${tag}@example.com`, [], now)],
    ['idempotency.claim', () => state.idempotency.claim(`order-${tag}`, `msg_${tag}`, now + 60_000, now)],
    ['softBounces.hit', () => state.softBounces.hit(`${tag}@example.com`, `e-${tag}`, now, 60_000)],
    ['correlation.record', () => state.correlation.record({ jobId: `msg_${tag}/0`, id: `msg_${tag}`, messageId: `<${tag}@x>`, recipients: ['a@example.com'], sentAt: now })],
    ['correlation.find', () => state.correlation.find(`msg_${tag}/0`)],
    ['replay.add', () => state.replay.add(`ses:${tag}`, now + 60_000)],
    ['replay.has', () => state.replay.has(`ses:${tag}`, now)],
    ['limiter.acquire', () => state.limiter.acquire('gmail.com', { ratePerSecond: 1000, concurrency: 10 }, `lease-${tag}`)],
    ['limiter.release', () => state.limiter.release('gmail.com', `lease-${tag}`, 'success')],
    ['limiter.state', () => state.limiter.state('gmail.com')],
  ];
}

it('rejects calls during a Redis outage with a retryable STORE error within the bound, and works again after the restart', { timeout: 60_000 }, async () => {
  const port = await freePort();
  let server = await startRedis(port);
  const commandTimeoutMs = 3_000;
  const state = redisState({ connection: { host: '127.0.0.1', port }, prefix: testPrefix(), commandTimeoutMs });
  try {
    for (const [, call] of calls(state, 'before')) await call();
    expect(await state.idempotency.claim('order-before', 'msg_other', Date.now() + 1000, Date.now())).toBe('msg_before');

    await stopRedis(server);
    // Every call at once: each must reject on its own within the bound.
    const outcomes = await Promise.all(
      calls(state, 'outage').map(async ([name, call]) => {
        const t0 = Date.now();
        const err = await Promise.resolve()
          .then(call)
          .then(
          () => undefined,
          (e: unknown) => e,
        );
        return { name, err, ms: Date.now() - t0 };
      }),
    );
    for (const { name, err } of outcomes) {
      expect(err, name).toMatchObject({ name: 'MailError', code: 'MAILPUSH_ERR_STORE', retryable: true });
      expect((err as Error).cause, name).toBeInstanceOf(Error);
      expect((err as Error).message, name).toMatch(/^Redis store: .+ failed: /);
    }
    const elapsed = outcomes.map((o) => o.ms);
    // And a call made a little later, while the client keeps failing to reconnect.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const t1 = Date.now();
    await expect(state.limiter.acquire('gmail.com', {}, 'late')).rejects.toMatchObject({ code: 'MAILPUSH_ERR_STORE' });
    elapsed.push(Date.now() - t1);
    console.log(`outage: ${elapsed.length} calls rejected with STORE after ${Math.min(...elapsed)}..${Math.max(...elapsed)} ms (bound: commandTimeoutMs ${commandTimeoutMs})`);
    for (const ms of elapsed) expect(ms).toBeLessThanOrEqual(commandTimeoutMs + 200);

    server = await startRedis(port);
    // The client reconnects by itself (retry delays capped at 1 s).
    const t0 = Date.now();
    for (;;) {
      try {
        await state.limiter.state('gmail.com');
        break;
      } catch {
        if (Date.now() - t0 > 5_000) throw new Error('no reconnect within 5 s');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    console.log(`restart: calls succeed again ${Date.now() - t0} ms after redis-server was back`);
    // Every part works, the Lua scripts included (Redis lost them: EVALSHA falls back to EVAL).
    const results: Record<string, unknown> = {};
    for (const [name, call] of calls(state, 'after')) results[name] = await call();
    expect(results['suppression.find']).toMatchObject({ address: 'after@example.com' });
    expect(results['idempotency.claim']).toBe('msg_after');
    expect(results['softBounces.hit']).toBe(1);
    expect(results['correlation.find']).toMatchObject({ jobId: 'msg_after/0' });
    expect(results['replay.has']).toBe(true);
    expect(results['limiter.acquire']).toEqual({ ok: true });
    expect(results['limiter.release']).toMatchObject({ released: true });
  } finally {
    await state.close();
    await stopRedis(server);
  }
});

it('rejects within commandTimeoutMs when Redis hangs (SIGSTOP) and works again when it resumes', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const server = await startRedis(port);
  const commandTimeoutMs = 500;
  const state = redisState({ connection: { host: '127.0.0.1', port }, prefix: testPrefix(), commandTimeoutMs });
  try {
    expect(await state.limiter.acquire('gmail.com', { ratePerSecond: 10 }, 'a')).toEqual({ ok: true });
    server.kill('SIGSTOP');
    const t0 = Date.now();
    await expect(state.suppression.find('ann@example.com', [], Date.now())).rejects.toMatchObject({ code: 'MAILPUSH_ERR_STORE', retryable: true });
    const ms = Date.now() - t0;
    console.log(`hung Redis: rejected with STORE after ${ms} ms (commandTimeoutMs ${commandTimeoutMs})`);
    expect(ms).toBeGreaterThanOrEqual(commandTimeoutMs - 50);
    expect(ms).toBeLessThan(commandTimeoutMs + 500);
    server.kill('SIGCONT');
    expect(await state.limiter.state('gmail.com')).toMatchObject({ inflight: 1 });
  } finally {
    server.kill('SIGCONT');
    await state.close();
    await stopRedis(server);
  }
});

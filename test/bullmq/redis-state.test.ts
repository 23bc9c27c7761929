import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisState } from '../../src/bullmq/index.js';
import { loadIoredis } from '../../src/bullmq/redis.js';
import { REDIS, stateTracker, testPrefix } from './helpers.js';

const states = stateTracker();
afterAll(() => states.closeAll());

const T = Date.UTC(2026, 0, 1);

describe('redisState', () => {
  it('refuses bad options, naming the option and the value', () => {
    expect(() => redisState(undefined as never)).toThrow('Expected `options` to be an object with `connection`, got undefined');
    expect(() => redisState({} as never)).toThrow('Expected `connection` to be an object with host and port, or an ioredis client, got undefined');
    expect(() => redisState({ connection: { host: '127.0.0.1', port: 70_000 } })).toThrow('Expected `connection.port` to be an integer from 1 to 65535, got 70000');
    expect(() => redisState({ connection: { host: '' } })).toThrow('Expected `connection.host` to be a non-empty string, got ""');
    expect(() => redisState({ connection: REDIS, prefix: 'a b' })).toThrow('Expected `prefix` to be a non-empty string without spaces, got "a b"');
    expect(() => redisState({ connection: REDIS, commandTimeoutMs: 0 })).toThrow('Expected `commandTimeoutMs` to be a positive integer (ms), got 0');
    expect(() => redisState({ connection: REDIS, correlation: { retentionMs: -1 } })).toThrow('Expected `correlation.retentionMs` to be a positive number of ms, got -1');
    expect(() => redisState({ connection: REDIS, clock: {} as never })).toThrow('`clock`');
  });

  it('names the packages to install when ioredis is missing', () => {
    const missing = (): never => {
      throw Object.assign(new Error("Cannot find module 'ioredis'"), { code: 'MODULE_NOT_FOUND' });
    };
    expect(() => loadIoredis(missing)).toThrow(expect.objectContaining({ code: 'MAILPUSH_ERR_MISSING_DEPENDENCY', retryable: false }));
    expect(() => loadIoredis(missing)).toThrow('npm install bullmq ioredis');
    expect(() => loadIoredis(() => ({}))).toThrow('npm install bullmq ioredis');
    expect(loadIoredis()).toBe(Redis);
  });

  it('uses an ioredis client it is given, and leaves it open on close', async () => {
    const client = new Redis(REDIS);
    const prefix = testPrefix();
    const state = redisState({ connection: client, prefix });
    expect(state.redis).toBe(client);
    await state.replay.add('k', Date.now() + 60_000);
    expect(await state.replay.has('k', Date.now())).toBe(true);
    await state.close();
    await state.close();
    expect(await client.exists(`${prefix}rp:k`)).toBe(1);
    await client.unlink(`${prefix}rp:k`);
    await client.quit();
  });

  it('rejects with a retryable STORE error carrying the cause once closed', async () => {
    const state = states.create();
    await state.close();
    await expect(state.suppression.find('a@example.com', [], T)).rejects.toMatchObject({ code: 'MAILPUSH_ERR_STORE', retryable: true, cause: expect.any(Error) });
  });

  it('shares state between two connections on one prefix (two processes)', async () => {
    const a = states.create();
    const b = states.on(a.prefix);
    await a.suppression.add({ domain: 'closed.example', reason: 'manual', createdAt: T });
    expect(await b.suppression.find('x@closed.example', [], T)).toMatchObject({ domain: 'closed.example' });
    expect(await a.idempotency.claim('k', 'msg_a', T + 1000, T)).toBe('msg_a');
    expect(await b.idempotency.claim('k', 'msg_b', T + 1000, T)).toBe('msg_a');
    expect(await a.softBounces.hit('ann@example.com', 'e1', T, 60_000)).toBe(1);
    expect(await b.softBounces.hit('ann@example.com', 'e2', T + 1, 60_000)).toBe(2);
  });

  it('keeps at most 32 soft bounces per address', async () => {
    const { softBounces } = states.create();
    for (let i = 0; i < 40; i++) await softBounces.hit('ann@example.com', `e${i}`, T + i, 60_000);
    expect(await softBounces.hit('ann@example.com', 'e40', T + 40, 60_000)).toBe(32);
  });

  it('makes one round trip per call of every part', async () => {
    const state = states.create({ clock: { now: () => T } });
    await state.replay.has('warm', T);
    const names: string[] = [];
    const send = state.redis.sendCommand.bind(state.redis);
    (state.redis as { sendCommand: unknown }).sendCommand = (command: { name: string }, ...rest: unknown[]) => {
      names.push(command.name);
      return (send as (...a: unknown[]) => unknown)(command, ...rest);
    };
    const counts: Record<string, number> = {};
    const measure = async (name: string, call: () => unknown): Promise<void> => {
      const before = names.length;
      await call();
      counts[name] = names.length - before;
    };
    await measure('suppression.add', () => state.suppression.add({ address: 'a@example.com', reason: 'manual', createdAt: T }));
    await measure('suppression.find', () => state.suppression.find('a@example.com', ['marketing', 'weekly'], T));
    await measure('suppression.remove', () => state.suppression.remove({ address: 'a@example.com' }));
    await measure('idempotency.claim', () => state.idempotency.claim('k', 'msg_1', T + 1000, T));
    await measure('idempotency.release', () => state.idempotency.release('k', 'msg_1'));
    await measure('softBounces.hit', () => state.softBounces.hit('a@example.com', 'e1', T, 1000));
    await measure('softBounces.reset', () => state.softBounces.reset('a@example.com'));
    await measure('correlation.record', () => state.correlation.record({ jobId: 'j', id: 'msg_1', messageId: '<a@b>', recipients: [], sentAt: T }));
    await measure('correlation.find', () => state.correlation.find('j'));
    await measure('replay.add', () => state.replay.add('r', T + 1000));
    await measure('replay.has', () => state.replay.has('r', T));
    console.log(`round trips per call: ${JSON.stringify(counts)}`);
    for (const [name, n] of Object.entries(counts)) expect(n, name).toBe(1);
  });
});

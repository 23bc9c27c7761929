/**
 * Shared pieces of bench/fleet.ts and its child processes (bench/fleet-worker.ts,
 * bench/fleet-sink.ts): where Redis is, key clean-up, the line protocol of the children, and a
 * client-side counter of Redis round trips. Not a benchmark itself.
 *
 * @module
 */

import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import type { Redis as RedisClient } from 'ioredis';
import { ROOT } from './common.js';

/** The Redis of the benchmark: 127.0.0.1 and `REDIS_PORT` (default 6379), as the tests use. */
export const REDIS = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) } as const;

/** The ioredis that bullmq and mailpush load (CommonJS, one copy in node_modules). */
const ioredis = createRequire(import.meta.url)('ioredis') as { default: new (options: object) => RedisClient };

/** A short-lived client for the parent (INFO, clean-up); fails fast when Redis is away. */
export function adminClient(): RedisClient {
  const Redis = ioredis.default;
  const client = new Redis({ ...REDIS, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000, retryStrategy: () => null });
  client.on('error', () => undefined);
  return client;
}

/** Deletes every key under `prefix` (SCAN + UNLINK; never FLUSH). */
export async function deleteKeys(client: RedisClient, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Commands Redis executed (INFO stats, server-wide: includes commands run inside Lua scripts, and other clients). */
export async function serverCommands(client: RedisClient): Promise<number> {
  const info = await client.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** CPU time Redis has used (user + system, main thread and children), ms. */
export async function serverCpuMs(client: RedisClient): Promise<number> {
  const info = await client.info('cpu');
  const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (field('used_cpu_sys') + field('used_cpu_user') + field('used_cpu_sys_children') + field('used_cpu_user_children')) * 1000;
}

/** Round trips counted in one process, by what was sent. */
export interface RoundTrips {
  /** Requests that waited for their own reply: single commands, plus one per pipeline (a MULTI/EXEC block counts once). */
  readonly roundTrips: number;
  /** Every command written, pipelined or not (Lua scripts count once, not their inner calls). */
  readonly commands: number;
  /** Round trips by label: the command name, the script name for EVALSHA, `pipeline(...)` for a pipeline. */
  readonly byLabel: Record<string, number>;
}

interface SentCommand {
  name: string;
  args: unknown[];
}

/**
 * Counts, on the client side, what every ioredis connection of this process sends (mailpush's
 * and BullMQ's: both load the same ioredis). Call before any connection is opened.
 */
export function countRedisRoundTrips(): { snapshot(): RoundTrips; reset(): void } {
  const proto = ioredis.default.prototype as unknown as {
    sendCommand(command: SentCommand, stream?: { isPipeline?: boolean }): unknown;
    defineCommand(name: string, definition: { lua: string }): void;
  };
  const scripts = new Map<string, string>();
  const defineCommand = proto.defineCommand;
  proto.defineCommand = function (this: unknown, name, definition) {
    scripts.set(createHash('sha1').update(definition.lua).digest('hex'), name);
    defineCommand.call(this, name, definition);
  };
  let commands = 0;
  let roundTrips = 0;
  let byLabel: Record<string, number> = {};
  // A pipeline's commands share one stream object: the first one counts the round trip and
  // names it, the others are added to the name as they come.
  let pipelines = new WeakMap<object, { label: string }>();
  const labelOf = (command: SentCommand): string => {
    if (command.name === 'evalsha' || command.name === 'eval') {
      const sha = command.name === 'evalsha' ? String(command.args[0]) : createHash('sha1').update(String(command.args[0])).digest('hex');
      return scripts.get(sha) ?? `${command.name} ${sha.slice(0, 8)}`;
    }
    return command.name;
  };
  const sendCommand = proto.sendCommand;
  proto.sendCommand = function (this: unknown, command, stream) {
    commands++;
    const label = labelOf(command);
    if (stream?.isPipeline === true) {
      const open = pipelines.get(stream);
      if (open === undefined) {
        roundTrips++;
        const entry = { label: `pipeline(${label}` };
        pipelines.set(stream, entry);
        byLabel[entry.label] = (byLabel[entry.label] ?? 0) + 1;
      } else if (label !== 'exec' && !open.label.endsWith(label)) {
        // Relabel the round trip with its next command (multi, then the work).
        byLabel[open.label] = (byLabel[open.label] ?? 1) - 1;
        if (byLabel[open.label] === 0) delete byLabel[open.label];
        open.label = open.label === 'pipeline(multi' ? `pipeline(multi ${label}` : `${open.label} ${label}`;
        byLabel[open.label] = (byLabel[open.label] ?? 0) + 1;
      }
    } else {
      roundTrips++;
      byLabel[label] = (byLabel[label] ?? 0) + 1;
    }
    return sendCommand.call(this, command, stream);
  };
  return {
    snapshot() {
      const closed: Record<string, number> = {};
      for (const [k, v] of Object.entries(byLabel)) {
        // A pipeline by the distinct commands in it (auto-pipelining groups whatever was issued in one tick).
        const key = k.startsWith('pipeline(') ? `pipeline(${[...new Set(k.slice(9).split(' '))].filter((c) => c !== 'multi').sort().join(' + ')})` : k;
        closed[key] = (closed[key] ?? 0) + v;
      }
      return { roundTrips, commands, byLabel: closed };
    },
    reset() {
      commands = 0;
      roundTrips = 0;
      byLabel = {};
      pipelines = new WeakMap();
    },
  };
}

/** Adds the counts of several processes. */
export function addRoundTrips(list: readonly RoundTrips[]): RoundTrips {
  const byLabel: Record<string, number> = {};
  for (const r of list) for (const [k, v] of Object.entries(r.byLabel)) byLabel[k] = (byLabel[k] ?? 0) + v;
  return { roundTrips: list.reduce((a, r) => a + r.roundTrips, 0), commands: list.reduce((a, r) => a + r.commands, 0), byLabel };
}

/** A child process that speaks one JSON object per line on stdout and takes commands on stdin. */
export interface LineChild {
  /** Sends `command` and resolves with the next line that has `key`. */
  ask(command: string, key: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the next line that has `key` (already received or to come). */
  next(key: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Ends stdin (the child exits) and waits for the exit. */
  close(): Promise<void>;
  readonly pid: number | undefined;
}

/** Starts `bench/<file>` under tsx with `args`. */
export function startLineChild(file: string, args: readonly string[]): LineChild {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', `bench/${file}`, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const received: Record<string, unknown>[] = [];
  const waiters: { key: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      process.stdout.write(`   [${file}] ${text}\n`);
      return;
    }
    const w = waiters.findIndex((x) => x.key in line);
    if (w >= 0) waiters.splice(w, 1)[0]!.resolve(line);
    else received.push(line);
  });
  const next = (key: string, timeoutMs = 60_000): Promise<Record<string, unknown>> => {
    const i = received.findIndex((l) => key in l);
    if (i >= 0) return Promise.resolve(received.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file}: no "${key}" line within ${timeoutMs} ms; stderr: ${stderr.trim().slice(-2000)}`)), timeoutMs);
      waiters.push({
        key,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${file} exited; stderr: ${stderr.trim().slice(-2000)}`));
      });
    });
  };
  return {
    pid: child.pid,
    next,
    ask(command, key, timeoutMs) {
      const reply = next(key, timeoutMs);
      child.stdin.write(`${command}\n`);
      return reply;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.stdin.end();
      await exited;
    },
  };
}

/** Reads commands from stdin, one per line; the process exits when stdin ends after `onEnd`. */
export function onCommands(handle: (command: string, arg: string) => Promise<void> | void, onEnd: () => Promise<void>): void {
  let chain = Promise.resolve();
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [command = '', ...rest] = line.trim().split(' ');
    chain = chain.then(() => handle(command, rest.join(' '))).catch((err: unknown) => reply({ error: String((err as Error)?.stack ?? err) }));
  });
  lines.on('close', () => {
    chain = chain.then(onEnd).then(() => process.exit(0));
  });
}

/** Writes one JSON line to stdout. */
export function reply(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

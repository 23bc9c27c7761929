/**
 * Helpers of the fleet tests (test/bullmq/fleet.test.ts): processes of a mailer fleet
 * (test/fixtures/bullmq-fleet-child.ts) that take commands on stdin, and a private
 * redis-server that a test may stop and start again.
 */
import { fileURLToPath } from 'node:url';
import { startJsonChild } from '../helpers/child-process.js';
import type { JsonChild, Line } from '../helpers/child-process.js';

export { startRedisServer, stopRedisServer } from '../helpers/redis-server.js';
export { freePort } from '../helpers/ports.js';
export type { Line } from '../helpers/child-process.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/bullmq-fleet-child.ts', import.meta.url));

/** A process of the fleet: its JSON lines, and commands sent to it. */
export interface FleetChild extends JsonChild {
  /** Sends a command; resolves with the first answer of `phase` (or any answer without a phase). */
  request(command: Record<string, unknown>, timeoutMs?: number, phase?: string): Promise<Line>;
  /** The answer of a command sent earlier, by its `rid`. */
  answer(rid: number, phase?: string, timeoutMs?: number): Promise<Line>;
}

let rids = 0;

/** Starts one process of the fleet with `config` (see the fixture's header). */
export function startFleetChild(config: Record<string, unknown>): FleetChild {
  const child = startJsonChild(FIXTURE, [JSON.stringify(config)], { stdin: true, timeoutMs: 20_000 });
  const answer = (rid: number, phase?: string, timeoutMs = 20_000): Promise<Line> =>
    child.next((l) => l.rid === rid && (phase === undefined || l.phase === phase || l.phase === undefined), timeoutMs);
  return Object.assign(child, {
    answer,
    request(command: Record<string, unknown>, timeoutMs?: number, phase?: string) {
      const rid = ++rids;
      child.send({ ...command, rid });
      return answer(rid, phase, timeoutMs);
    },
  });
}

/** Sends a command without waiting: returns its `rid`, for {@link FleetChild.answer}. */
export function post(child: FleetChild, command: Record<string, unknown>): number {
  const rid = ++rids;
  child.send({ ...command, rid });
  return rid;
}

/** Percentile `p` (0..100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

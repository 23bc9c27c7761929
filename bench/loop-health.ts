/**
 * Event-loop health of a piece of work, shared by the loop benchmarks (bench/loop.ts,
 * bench/feedback-loop.ts, bench/large-message.ts): how many ticks a 10 ms `setInterval` keeps
 * while the work runs, the longest gap between two ticks, the most CPU the process used between
 * two ticks, and the GC pauses. Ticks are counted rather than read from `monitorEventLoopDelay`,
 * which missed 2-second stalls of a busy microtask chain here.
 */

import { PerformanceObserver, performance } from 'node:perf_hooks';

export interface LoopHealth {
  /** Ticks of a 10 ms interval kept, as a share of the ticks due (at most 1). */
  readonly kept: number;
  /** Longest time between two ticks (or the start/end and a tick), ms. */
  readonly longestGapMs: number;
  /** Most CPU time (all threads of the process, ms) used between two ticks. */
  readonly longestCpuMs: number;
  /** Wall time of the work, ms. */
  readonly ms: number;
  /** CPU time of the process during the work, µs. */
  readonly cpuUs: number;
  readonly gcCount: number;
  readonly gcLongestMs: number;
  readonly gcTotalMs: number;
}

const gcPauses: number[] = [];
let observing = false;

/** Runs `work` while a 10 ms interval counts its ticks; see {@link LoopHealth}. */
export async function loopHealth(work: () => Promise<unknown>): Promise<LoopHealth> {
  if (!observing) {
    observing = true;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcPauses.push(e.duration);
    }).observe({ entryTypes: ['gc'] });
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  gcPauses.length = 0;
  let ticks = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let last = start;
  let lastCpu = cpu0;
  let longestGapMs = 0;
  let longestCpuMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    longestGapMs = Math.max(longestGapMs, now - last);
    longestCpuMs = Math.max(longestCpuMs, (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000);
    last = now;
    lastCpu = cpu;
    ticks++;
  }, 10);
  await work();
  clearInterval(timer);
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const tail = process.cpuUsage(lastCpu);
  longestGapMs = Math.max(longestGapMs, end - last);
  longestCpuMs = Math.max(longestCpuMs, (tail.user + tail.system) / 1000);
  // Pauses reported after the work ended belong to it too; the observer reports asynchronously.
  await new Promise((resolve) => setImmediate(resolve));
  return {
    kept: Math.min(1, ticks / Math.max(1, Math.floor((end - start) / 10))),
    longestGapMs,
    longestCpuMs,
    ms: end - start,
    cpuUs: cpu.user + cpu.system,
    gcCount: gcPauses.length,
    gcLongestMs: Math.max(0, ...gcPauses),
    gcTotalMs: gcPauses.reduce((a, b) => a + b, 0),
  };
}

/** The baseline: busy for `ms`, yielding with a `setImmediate` after every 1 ms of work. */
export async function spin(ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const sliceEnd = performance.now() + 1;
    while (performance.now() < sliceEnd) {
      // busy
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Runs every benchmark in sequence, each in its own Node process (so one benchmark's heap
 * and JIT state do not affect the next). Exits non-zero when a benchmark crashes; a missed
 * target is printed, not an error (machines differ).
 *
 * A benchmark is any bench/*.ts file except the helpers listed in NOT_BENCHMARKS, the helpers
 * of bench/fleet.ts (`fleet-*.ts`) and files starting with `_` (scratch). The core ones run
 * first, in a fixed order, then the others alphabetically. Every benchmark takes `--quick` and `--rounds N`.
 *
 * Run: npm run bench [-- --quick] [-- --rounds N] [-- name ...]
 *   --quick     short smoke run of each benchmark (CI: proves they still run, < 60 s total)
 *   --rounds N  repetitions per benchmark (default: each benchmark's own)
 *   name ...    only these benchmarks (e.g. `dispatch rate`)
 */

import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, machine, nowMs } from './common.js';

const NOT_BENCHMARKS = new Set(['common', 'run', 'sink-process']);
const FIRST = ['smtp-throughput', 'dispatch', 'memory', 'latency', 'rate'];
const found = readdirSync(join(ROOT, 'bench'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  // bench/fleet-*.ts are the helpers and child processes of bench/fleet.ts.
  .filter((name) => !NOT_BENCHMARKS.has(name) && !name.startsWith('fleet-'));
const BENCHMARKS: readonly string[] = [...FIRST.filter((n) => found.includes(n)), ...found.filter((n) => !FIRST.includes(n)).sort()];

const argv = process.argv.slice(2);
const forwarded: string[] = [];
const selected: string[] = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (a === '--quick') forwarded.push(a);
  else if (a === '--rounds') forwarded.push(a, argv[++i] ?? '');
  else if (BENCHMARKS.includes(a)) selected.push(a);
  else {
    console.error(`Unknown argument ${JSON.stringify(a)}; expected --quick, --rounds N or one of ${BENCHMARKS.join(', ')}`);
    process.exit(2);
  }
}
const list = selected.length > 0 ? selected : BENCHMARKS;

function run(name: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, ...forwarded], { cwd: ROOT, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

console.log(`mailpush benchmarks: ${list.join(', ')}${forwarded.length > 0 ? ` (${forwarded.join(' ')})` : ''}`);
console.log(machine());
const start = nowMs();
const failed: string[] = [];
for (const name of list) {
  const t0 = nowMs();
  const code = await run(name);
  console.log(`   (${name}: ${((nowMs() - t0) / 1000).toFixed(1)} s${code === 0 ? '' : `, exit code ${code}`})`);
  if (code !== 0) failed.push(name);
}
console.log(`\nall benchmarks: ${((nowMs() - start) / 1000).toFixed(1)} s${failed.length > 0 ? `, FAILED: ${failed.join(', ')}` : ''}`);
process.exitCode = failed.length > 0 ? 1 : 0;

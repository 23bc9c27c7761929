/**
 * A private redis-server (no persistence) on a port of its own (see `freePort` in ports.ts),
 * for tests that stop and start Redis under the parts.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** Starts redis-server on `port` (no persistence) and resolves once it accepts connections. */
export async function startRedisServer(port: number): Promise<ChildProcess> {
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      server.kill('SIGKILL');
      reject(new Error(`redis-server did not start: ${out}`));
    }, 10_000);
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return server;
}

/** Kills a redis-server started by {@link startRedisServer} and waits for it to exit. */
export async function stopRedisServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGKILL');
  await exited;
}

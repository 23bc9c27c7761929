/**
 * What the local fakes (SMTP sink, SES server, SendGrid server) share: listening on a port
 * and reading it back, keeping track of open connections so that `close()` is immediate, and
 * `waitFor(count)` promises that settle as messages arrive.
 *
 * @module
 * @internal
 */

import type { AddressInfo, Server, Socket } from 'node:net';
import { configError, MailError, MailErrorCode } from '../errors.js';

/** Anything that listens like `net.Server` (an http.Server, smtp-server's `server.server`). */
type Listenable = Pick<Server, 'listen' | 'once' | 'off' | 'address'>;

/**
 * Listens on `host:port` (0 picks a free port) and resolves with the port; a failure to
 * listen rejects with `onError(err)`. `listen` defaults to the server's own.
 */
export function listenOn(server: Listenable, host: string, port: number, onError: (err: Error) => Error = (err) => err, listen?: (port: number, host: string, cb: () => void) => void): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const fail = (err: Error): void => reject(onError(err));
    server.once('error', fail);
    const done = (): void => {
      server.off('error', fail);
      resolve((server.address() as AddressInfo).port);
    };
    if (listen !== undefined) listen(port, host, done);
    else server.listen(port, host, done);
  });
}

/** The open connections of a server, so that closing it does not wait for clients. */
export class Connections {
  private readonly sockets = new Set<Socket>();

  /** Starts tracking `server`'s connections. */
  constructor(server: Pick<Server, 'on'>) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** The connection whose remote port is `port` (the SMTP session of a client). */
  byRemotePort(port: number): Socket | undefined {
    for (const s of this.sockets) if (s.remotePort === port) return s;
    return undefined;
  }

  /** Drops every open connection at once. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

interface Waiter {
  readonly count: number;
  readonly resolve: () => void;
  readonly reject: (err: MailError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** `waitFor(count, timeoutMs)` of a fake: promises that resolve once `count()` reaches a target. */
export class CountWaiters {
  private waiters: Waiter[] = [];
  private closedError: MailError | undefined;

  /**
   * @param what - The fake, for messages ("SMTP sink", "SES server").
   * @param count - The count so far (messages accepted).
   * @param verb - What the count counts, for the timeout message ("received", "accepted").
   */
  constructor(
    private readonly what: string,
    private readonly count: () => number,
    private readonly verb = 'received',
  ) {}

  /** Resolves once the count reaches `target`; rejects with TIMEOUT after `timeoutMs`, with CLOSED once the fake closes. */
  waitFor(target: number, timeoutMs = 5000): Promise<void> {
    if (!(Number.isInteger(target) && target >= 0)) return Promise.reject(configError('count', 'an integer >= 0', target));
    if (!(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs >= 0)) return Promise.reject(configError('timeoutMs', 'a finite number >= 0', timeoutMs));
    if (this.count() >= target) return Promise.resolve();
    if (this.closedError !== undefined) return Promise.reject(new MailError(`${this.what} is closed`, { code: MailErrorCode.CLOSED }));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new MailError(`${this.what} ${this.verb} ${this.count()} of ${target} expected messages within ${timeoutMs} ms`, { code: MailErrorCode.TIMEOUT }));
      }, timeoutMs);
      this.waiters.push({ count: target, resolve, reject, timer });
    });
  }

  /** The count moved: resolves the waiters whose target is reached. */
  notify(): void {
    if (this.waiters.length === 0) return;
    const n = this.count();
    this.waiters = this.waiters.filter((w) => {
      if (n < w.count) return true;
      clearTimeout(w.timer);
      w.resolve();
      return false;
    });
  }

  /** The fake closes: every waiter rejects with CLOSED, and so do later waits. */
  close(message = `${this.what} closed before the expected messages arrived`): void {
    this.closedError ??= new MailError(message, { code: MailErrorCode.CLOSED });
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new MailError(message, { code: MailErrorCode.CLOSED }));
    }
    this.waiters = [];
  }
}

/**
 * Loading optional peer dependencies (vitest, smtp-server, mailparser, the AWS SDK, ...) so
 * that a missing one is a MISSING_DEPENDENCY MailError, and several missing ones are named
 * together with one install command, rather than one raw ERR_MODULE_NOT_FOUND at a time.
 *
 * @module
 * @internal
 */

import { MailError, MailErrorCode } from '../errors.js';

/** One optional package and how to load it (`() => import('smtp-server')`). */
export interface OptionalPackage<T> {
  /** npm package name, as installed. */
  readonly pkg: string;
  /** Loads it; a literal `import()` so that bundlers and type checkers see it. */
  readonly load: () => Promise<T>;
}

/** True when `err` says that `pkg` itself (not something it imports) is not installed. */
export function isNotInstalled(err: unknown, pkg: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  const message = err instanceof Error ? err.message : String(err);
  // Node quotes the specifier: "Cannot find package 'vitest' imported from ...", "Cannot find module 'ioredis'".
  return message.includes(`'${pkg}'`) || message.includes(`"${pkg}"`) || message.includes(`'${pkg}/`);
}

/**
 * Loads every package at once. When some are not installed, rejects with one
 * MISSING_DEPENDENCY error naming all of them and the command that installs them
 * (`npm install --save-dev smtp-server mailparser`); another failure to load gives INTERNAL.
 *
 * @param what - Who needs them, for the message (`The SMTP sink (mailpush/testing)`).
 * @param packages - The packages, in order; the result has their modules in the same order.
 * @param dev - Name `--save-dev` in the install command (test-only packages). @default false
 *
 * @example
 * ```ts
 * const [{ SMTPServer }, { simpleParser }] = await importOptionalAll('The SMTP sink', [
 *   { pkg: 'smtp-server', load: () => import('smtp-server') },
 *   { pkg: 'mailparser', load: () => import('mailparser') },
 * ], true);
 * ```
 */
export async function importOptionalAll<const T extends readonly unknown[]>(
  what: string,
  packages: { readonly [K in keyof T]: OptionalPackage<T[K]> },
  dev = false,
): Promise<T> {
  const list = packages as readonly OptionalPackage<unknown>[];
  const outcomes = await Promise.allSettled(list.map((p) => p.load()));
  const missing: string[] = [];
  const causes: unknown[] = [];
  let other: { pkg: string; err: unknown } | undefined;
  outcomes.forEach((o, i) => {
    if (o.status === 'fulfilled') return;
    const pkg = list[i]!.pkg;
    causes.push(o.reason);
    if (isNotInstalled(o.reason, pkg)) missing.push(pkg);
    else other ??= { pkg, err: o.reason };
  });
  if (missing.length > 0) throw missingDependencyError(what, missing, dev, causes);
  if (other !== undefined) {
    const message = other.err instanceof Error ? other.err.message : String(other.err);
    throw new MailError(`Could not load "${other.pkg}": ${message}`, { code: MailErrorCode.INTERNAL, retryable: false, cause: other.err });
  }
  return outcomes.map((o) => (o as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * The MISSING_DEPENDENCY error for packages that are not installed: names each one and the
 * command that installs them all.
 *
 * @example
 * ```ts
 * throw missingDependencyError('mailpush/testing/conformance', ['vitest'], true);
 * // "mailpush/testing/conformance needs the package "vitest", which is not installed: npm install --save-dev vitest"
 * ```
 */
export function missingDependencyError(what: string, missing: readonly string[], dev = false, causes: readonly unknown[] = []): MailError {
  const names = missing.map((p) => `"${p}"`);
  const listed = names.length === 1 ? `the package ${names[0]}, which is` : `the packages ${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}, which are`;
  return new MailError(`${what} needs ${listed} not installed: npm install ${dev ? '--save-dev ' : ''}${missing.join(' ')}`, {
    code: MailErrorCode.MISSING_DEPENDENCY,
    retryable: false,
    ...(causes.length === 1 ? { cause: causes[0] } : causes.length > 1 ? { cause: new AggregateError(causes, 'Optional packages failed to load') } : {}),
  });
}

/**
 * Loads one optional package: {@link importOptionalAll} with a single entry.
 *
 * @example
 * ```ts
 * const prom = await importOptional('The Prometheus exporter', 'prom-client', () => import('prom-client'));
 * ```
 */
export async function importOptional<T>(what: string, pkg: string, load: () => Promise<T>): Promise<T> {
  const [mod] = await importOptionalAll<[T]>(what, [{ pkg, load }]);
  return mod;
}

/** The namespace of a CommonJS package imported from ESM: its `default` when that carries the exports. */
export function interop<T>(mod: T & { default?: T }): T {
  return mod.default !== undefined && typeof mod.default === 'object' ? mod.default : mod;
}

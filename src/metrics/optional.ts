/**
 * Lazy loading of the exporters' optional peer dependencies (prom-client, @opentelemetry/api).
 *
 * @module
 * @internal
 */

import { MailError, MailErrorCode } from '../errors.js';

/** Imports `pkg` through `load`; "not installed" becomes a MISSING_DEPENDENCY MailError naming the install command. */
export async function loadOptional<T>(pkg: string, what: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : String(err);
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(pkg)) {
      throw new MailError(`${what} needs the "${pkg}" package: npm install ${pkg}`, { code: MailErrorCode.MISSING_DEPENDENCY, retryable: false, cause: err });
    }
    throw new MailError(`Could not load "${pkg}": ${message}`, { code: MailErrorCode.INTERNAL, retryable: false, cause: err });
  }
}

/** The namespace of a CommonJS package imported from ESM: its `default` when that carries the exports. */
export function interop<T>(mod: T & { default?: T }): T {
  return mod.default !== undefined && typeof mod.default === 'object' ? mod.default : mod;
}

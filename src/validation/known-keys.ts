/**
 * Unknown keys are an error: an option or message field with a typo (`retires`, `fromm`,
 * `priorty`) would otherwise be ignored without a word. Each place that takes an options
 * object keeps an explicit list of its names next to its type and checks against it here;
 * the error suggests the nearest known name.
 *
 * @module
 */

import { MailError, MailErrorCode } from '../errors.js';

/** Names a check accepts, built once with {@link knownKeys}. */
export type KnownKeys = ReadonlySet<string>;

/**
 * A set of known names, for {@link findUnknownKey}.
 *
 * @example
 * ```ts
 * const SEND_OPTION_KEYS = knownKeys(['priority', 'sendAt', 'idempotencyKey', 'signal']);
 * ```
 */
export function knownKeys(names: readonly string[]): KnownKeys {
  return new Set(names);
}

/**
 * The first own key of `value` that is not in `known`, or undefined. Cheap enough for every
 * send: one set lookup per key given.
 *
 * @example
 * ```ts
 * findUnknownKey({ priorty: 'high' }, knownKeys(['priority'])); // 'priorty'
 * ```
 */
export function findUnknownKey(value: object, known: KnownKeys): string | undefined {
  for (const key in value) {
    if (!known.has(key) && Object.prototype.hasOwnProperty.call(value, key)) return key;
  }
  return undefined;
}

/**
 * The known name closest to `key` (a typo, a case slip, a missing or doubled letter), or
 * undefined when none is close enough to be a likely intent.
 *
 * @example
 * ```ts
 * nearestName('retires', ['retry', 'random', 'limits']); // 'retry'
 * ```
 */
export function nearestName(key: string, known: Iterable<string>): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const d = name.toLowerCase() === lower ? 0 : distance(lower, name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 2)) ? best : undefined;
}

/** Optimal string alignment distance (Levenshtein with transpositions). */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return Infinity;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The error for an unknown key: CONFIG for options given to a factory, VALIDATION for a
 * message or send options. Names the key, the nearest known name and every known name.
 *
 * @example
 * ```ts
 * const key = findUnknownKey(options, MAILER_OPTION_KEYS);
 * if (key !== undefined) throw unknownKeyError('mailer option', key, MAILER_OPTION_KEYS, MailErrorCode.CONFIG);
 * ```
 */
export function unknownKeyError(what: string, key: string, known: KnownKeys, code: MailErrorCode, path?: string): MailError {
  const near = nearestName(key, known);
  const shown = JSON.stringify(key.length > 60 ? `${key.slice(0, 57)}...` : key);
  const hint = near === undefined ? '' : `; did you mean \`${near}\`?`;
  const list = [...known].sort().join(', ');
  const option = path === undefined ? key : `${path}.${key}`;
  return new MailError(`Unknown ${what} ${shown}${hint} (known: ${list})`, {
    code,
    ...(code === MailErrorCode.CONFIG ? { option } : {}),
  });
}

/**
 * Throws {@link unknownKeyError} when `value` has a key not in `known`.
 *
 * @example
 * ```ts
 * rejectUnknownKeys(sendOptions, SEND_OPTION_KEYS, 'send option', MailErrorCode.VALIDATION);
 * ```
 */
export function rejectUnknownKeys(value: object, known: KnownKeys, what: string, code: MailErrorCode, path?: string): void {
  const key = findUnknownKey(value, known);
  if (key !== undefined) throw unknownKeyError(what, key, known, code, path);
}

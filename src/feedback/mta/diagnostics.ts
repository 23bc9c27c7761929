/**
 * Diagnostic texts that wrap the remote server's reply in the reporting system's own words,
 * as data. The classifier should read the remote reply, not the wrapper: Amazon SES's
 * `5.1.0 - Unknown address error 550-'5.7.1 ... Access denied'` is about access, not an
 * unknown address.
 *
 * @module
 */

/** A wrapper format: where the remote reply and the wrapper's own status are. */
export interface DiagnosticWrapper {
  /** Family that writes it, for documentation. */
  readonly id: string;
  /** Matches the whole diagnostic; named groups `reply` (required), `code` and `status` (optional). */
  readonly pattern: RegExp;
}

/** The built-in wrappers. */
export const DIAGNOSTIC_WRAPPERS: readonly DiagnosticWrapper[] = Object.freeze([
  {
    // `5.1.0 - Unknown address error 550-'5.7.1 <...>... Access denied' (delivery attempts: 0)`
    id: 'amazonses',
    pattern:
      /^\s*(?<status>[245]\.\d{1,3}\.\d{1,3}) - [^'"]{1,120}?\b(?<code>[245]\d\d)[ -]{1,2}['"](?<reply>.{1,4000}?)['"]?(?:\s*\(delivery attempts: \d{1,6}\))?\s*$/s,
  },
  {
    // Exchange / Office 365: `Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'`
    id: 'exchange',
    pattern: /Remote Server returned '(?<reply>[245]\d\d[^']{1,2000})'/i,
  },
]);

/** The remote reply inside a wrapped diagnostic, and the wrapper's own status. */
export interface UnwrappedDiagnostic {
  /** The text to classify: the remote reply, prefixed with its code when the wrapper split it off. */
  readonly text: string;
  /** The wrapper's own enhanced status, a fallback when the reply has none. */
  readonly status?: string;
}

/** Unwraps a diagnostic written by a known wrapper; other texts come back unchanged. */
export function unwrapDiagnostic(text: string): UnwrappedDiagnostic {
  if (text.length > 8192) return { text };
  for (const { pattern } of DIAGNOSTIC_WRAPPERS) {
    const g = pattern.exec(text)?.groups;
    if (g?.['reply'] === undefined) continue;
    const reply = g['code'] !== undefined ? `${g['code']} ${g['reply'].trim()}` : g['reply'].trim();
    return g['status'] !== undefined ? { text: reply, status: g['status'] } : { text: reply };
  }
  return { text };
}

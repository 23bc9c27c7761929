/**
 * MJML to HTML: loads mjml (an optional peer dependency) with a dynamic import, compiles with
 * the strict validation level, and turns MJML's errors into TEMPLATE errors with the line.
 *
 * @module
 * @internal
 */

import { MailError, MailErrorCode } from '../errors.js';
import { TemplateError } from './errors.js';

/** npm package name of MJML. */
export const MJML = 'mjml';

/** The options of mjml2html that mailpush passes. */
export interface Mjml2HtmlOptions {
  readonly validationLevel: 'strict';
  readonly ignoreIncludes?: boolean;
  readonly filePath?: string;
}

/** mjml's `mjml2html` (mjml 5: async; mjml 4's sync form works too). */
export type Mjml2Html = (mjml: string, options: Mjml2HtmlOptions) => Promise<{ readonly html: string; readonly errors?: readonly unknown[] }> | { readonly html: string; readonly errors?: readonly unknown[] };

let loaded: Promise<Mjml2Html> | undefined;

/**
 * Imports mjml once. A missing package gives MISSING_DEPENDENCY naming the install command.
 * `importFn` is for tests.
 */
export function loadMjml(importFn?: (id: string) => Promise<unknown>): Promise<Mjml2Html> {
  const custom = importFn !== undefined;
  if (loaded !== undefined && !custom) return loaded;
  const p = (importFn ?? ((id: string) => import(id)))(MJML).then(
    (mod) => {
      const m = mod as { default?: unknown } | null;
      const fn = typeof m === 'function' ? m : typeof m?.default === 'function' ? m.default : (m?.default as { default?: unknown } | undefined)?.default;
      if (typeof fn !== 'function') throw new MailError(`The module loaded for "${MJML}" has no mjml2html function`, { code: MailErrorCode.MISSING_DEPENDENCY, retryable: false });
      return fn as Mjml2Html;
    },
    (err: unknown) => {
      const code = (err as { code?: unknown } | null)?.code;
      const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
      throw new MailError(
        missing
          ? `MJML templates need the "${MJML}" package (an optional peer dependency of mailpush): npm install ${MJML}@5`
          : `Could not load "${MJML}": ${err instanceof Error ? err.message : String(err)}`,
        { code: MailErrorCode.MISSING_DEPENDENCY, retryable: false, cause: err },
      );
    },
  );
  if (!custom) {
    loaded = p;
    // A failed import may succeed later (the package installed meanwhile): do not keep it.
    p.catch(() => {
      if (loaded === p) loaded = undefined;
    });
  }
  return p;
}

interface MjmlValidationError {
  readonly line: number;
  readonly tagName: string;
  readonly message: string;
}

function readErrors(value: unknown): MjmlValidationError[] {
  if (!Array.isArray(value)) return [];
  return value.map((e: unknown) => {
    const r = (e ?? {}) as Record<string, unknown>;
    return { line: typeof r.line === 'number' ? r.line : 0, tagName: typeof r.tagName === 'string' ? r.tagName : '', message: typeof r.message === 'string' ? r.message.trim() : String(e) };
  });
}

// "Attribute background-color has invalid value: {{color}} for type Color ..."
const TYPED_ATTRIBUTE = /^Attribute (\S+) has invalid value: (.*?) for type (\S+?)(?:,|\s|$)/;

/**
 * The TEMPLATE error for MJML's validation errors: a variable in a typed attribute gets its
 * own explanation; otherwise the first error with its line, and every error in `mjmlErrors`.
 */
function templateErrorFrom(errors: MjmlValidationError[], cause: unknown): TemplateError {
  for (const e of errors) {
    const m = TYPED_ATTRIBUTE.exec(e.message);
    if (m !== null && m[2]!.includes('{{')) {
      return new TemplateError(
        `MJML line ${e.line}: <${e.tagName} ${m[1]}="${m[2]}"> - \`${m[1]}\` is a typed MJML attribute (${m[3]}) and cannot hold a variable. ` +
          'Variables work in text, in string attributes (href, src, alt, title, css-class) and in the subject and text; ' +
          'for a per-recipient colour or size, compile one template per value or put the value in raw HTML (mj-raw)',
        { part: 'mjml', line: e.line, tagName: e.tagName, attribute: m[1]!, mjmlErrors: errors, cause },
      );
    }
  }
  const first = errors[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more: see error.mjmlErrors)` : '';
  if (first === undefined) return new TemplateError(`MJML could not compile the template: ${cause instanceof Error ? cause.message.trim() : String(cause)}`, { part: 'mjml', cause });
  return new TemplateError(`MJML line ${first.line}${first.tagName ? ` (${first.tagName})` : ''}: ${first.message}${more}`, {
    part: 'mjml',
    line: first.line,
    ...(first.tagName ? { tagName: first.tagName } : {}),
    mjmlErrors: errors,
    cause,
  });
}

/**
 * Compiles MJML to HTML with the strict validation level. `includePath` enables mj-include
 * relative to that file or folder (MJML ignores includes otherwise).
 */
export async function compileMjml(source: string, lib: Mjml2Html, includePath?: string): Promise<string> {
  const options: Mjml2HtmlOptions = includePath === undefined ? { validationLevel: 'strict', ignoreIncludes: true } : { validationLevel: 'strict', ignoreIncludes: false, filePath: includePath };
  let result: Awaited<ReturnType<Mjml2Html>>;
  try {
    result = await lib(source, options);
  } catch (err) {
    if (err instanceof MailError) throw err;
    throw templateErrorFrom(readErrors((err as { errors?: unknown } | null)?.errors), err);
  }
  const errors = readErrors(result.errors);
  if (errors.length > 0) throw templateErrorFrom(errors, undefined);
  if (typeof result.html !== 'string' || result.html.length === 0) throw new TemplateError('MJML produced no HTML', { part: 'mjml' });
  return result.html;
}

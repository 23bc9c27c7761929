/**
 * Placeholder syntax: `{{name}}` (escaped in HTML), `{{{name}}}` (raw), names with dotted
 * paths (`{{user.first}}`), spaces inside the braces allowed (`{{ name }}`). A source is cut
 * once into static chunks and slots, so rendering is string concatenation.
 *
 * @module
 * @internal
 */

import { TemplateError } from './errors.js';
import type { TemplatePart } from './errors.js';

/** A variable reference: `{{path}}` (escaped) or `{{{path}}}` (raw). */
export interface Slot {
  /** The name as written, trimmed (`user.first`). */
  readonly name: string;
  /** True for `{{{name}}}`. */
  readonly raw: boolean;
  /** 1-based line of the placeholder in its source. */
  readonly line: number;
}

/** A source cut into `chunks.length === slots.length + 1` static pieces around its slots. */
export interface Parsed {
  readonly chunks: readonly string[];
  readonly slots: readonly Slot[];
}

// A path segment: letters, digits, `_`, `$` and `-` (list indexes like `items.0.name` work).
const NAME = /^[A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*$/;
// Segments that would walk into Object.prototype rather than the caller's data.
const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** 1-based line number of `index` in `source`. */
export function lineAt(source: string, index: number): number {
  let line = 1;
  for (let i = source.indexOf('\n'); i >= 0 && i < index; i = source.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * Cuts `source` into chunks and slots. Throws a TEMPLATE {@link TemplateError} with the line
 * for an unclosed `{{`, an empty or malformed name. A lone `}}` is text (CSS has them).
 */
export function parsePlaceholders(source: string, part: TemplatePart): Parsed {
  const chunks: string[] = [];
  const slots: Slot[] = [];
  let from = 0;
  let at = source.indexOf('{{');
  while (at >= 0) {
    const raw = source.startsWith('{{{', at);
    const open = raw ? 3 : 2;
    const close = raw ? '}}}' : '}}';
    const end = source.indexOf(close, at + open);
    const nextOpen = source.indexOf('{{', at + open);
    if (end < 0 || (nextOpen >= 0 && nextOpen < end)) {
      const line = lineAt(source, at);
      throw new TemplateError(`Unclosed \`${raw ? '{{{' : '{{'}\` in the ${part} at line ${line}: expected \`${close}\` (${excerpt(source, at)})`, { part, line });
    }
    const name = source.slice(at + open, end).trim();
    checkName(name, source, at, part);
    chunks.push(source.slice(from, at));
    slots.push({ name, raw, line: lineAt(source, at) });
    from = end + close.length;
    at = source.indexOf('{{', from);
  }
  chunks.push(source.slice(from));
  return { chunks, slots };
}

function checkName(name: string, source: string, at: number, part: TemplatePart): void {
  let problem: string | undefined;
  if (name.length === 0) problem = 'an empty variable name';
  else if (!NAME.test(name)) problem = `an invalid variable name ${JSON.stringify(name.length > 40 ? `${name.slice(0, 37)}...` : name)} (letters, digits, _, $, - and dots between names)`;
  else if (name.split('.').some((s) => FORBIDDEN_SEGMENTS.has(s))) problem = `the variable name ${JSON.stringify(name)}, which names a JavaScript object property`;
  if (problem !== undefined) {
    const line = lineAt(source, at);
    throw new TemplateError(`The ${part} has ${problem} at line ${line} (${excerpt(source, at)})`, { part, line });
  }
}

/** A short, single-line piece of the source starting at `at`, for error messages. */
function excerpt(source: string, at: number): string {
  const piece = source.slice(at, at + 30).split('\n')[0] ?? '';
  return JSON.stringify(piece.length < source.length - at ? `${piece}...` : piece);
}

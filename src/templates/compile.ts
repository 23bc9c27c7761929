/**
 * compileTemplate: MJML (or HTML) compiled once into static chunks and variable slots, so that
 * `render(vars)` is string concatenation.
 *
 * @module
 */

import { MailError, MailErrorCode, describeValue } from '../errors.js';
import { htmlFragmentToText, htmlToText } from '../message/text-alternative.js';
import { BoundedMap } from '../queue/bounded-map.js';
import type { MessageTemplate, RenderedMessage } from '../types.js';
import { TemplateError } from './errors.js';
import type { TemplatePart } from './errors.js';
import { compileMjml, loadMjml } from './mjml.js';
import type { Mjml2Html } from './mjml.js';
import { parsePlaceholders } from './parse.js';
import type { Parsed } from './parse.js';

/** What to do with a variable that has no value (absent, `undefined` or `null`). */
export type MissingVariables = 'error' | 'empty';

/** What {@link compileTemplate} takes: an MJML (or HTML) body, a subject and optionally a text part. */
export interface TemplateSource {
  /** The MJML source. Give this or `html`. */
  readonly mjml?: string;
  /** A ready HTML body instead of MJML (no MJML step; mjml need not be installed). */
  readonly html?: string;
  /** The subject, with variables. */
  readonly subject: string;
  /**
   * The text part, with variables. @default generated from the HTML with html-to-text (once,
   * at compile time; `{{name}}` becomes the plain value and `{{{name}}}` the text of its HTML)
   */
  readonly text?: string;
  /**
   * A variable without a value (absent, `undefined` or `null`): `'error'` makes `render`
   * throw a TEMPLATE {@link TemplateError} listing every missing name (`error.missing`);
   * `'empty'` renders it as an empty string. @default 'error'
   */
  readonly missing?: MissingVariables;
  /**
   * Path of the template file or its folder (it must exist): enables `<mj-include>`, resolved relative to
   * it (MJML then allows files under it only). @default includes are ignored by MJML
   */
  readonly includePath?: string;
  /** Your own `mjml2html` (mjml 5's async one, or mjml 4's) instead of importing `mjml`. */
  readonly lib?: Mjml2Html;
}

/**
 * A compiled template: its sources (placeholders kept) and a synchronous `render`. Immutable
 * and safe to share between messages, campaigns and concurrent sends.
 */
export interface Template extends MessageTemplate {
  /** The subject source. */
  readonly subject: string;
  /** The compiled HTML, with its placeholders. */
  readonly html: string;
  /** The text source (given or generated), with its placeholders. */
  readonly text: string;
  /** Every variable the template uses (dotted paths as written), each once. */
  readonly variables: readonly string[];
  /**
   * Renders the template for one recipient. `{{name}}` is HTML-escaped in the HTML and plain
   * in the subject and text; `{{{name}}}` is inserted as is in the HTML (unsafe with untrusted
   * values). Strings, numbers, bigints and booleans are accepted as values.
   *
   * @throws TemplateError (code TEMPLATE) listing missing variables (with `missing: 'error'`)
   *   or naming a variable whose value is an object or function.
   */
  render(vars?: Readonly<Record<string, unknown>>): RenderedMessage;
}

// How a slot's value is written: as is, HTML-escaped, or an HTML value turned to text.
const PLAIN = 0;
const ESCAPE = 1;
const HTML_AS_TEXT = 2;
type Mode = typeof PLAIN | typeof ESCAPE | typeof HTML_AS_TEXT;

/** A part ready to render: chunks around slots, each slot an index into the variable list. */
interface Program {
  readonly chunks: readonly string[];
  readonly vars: Int32Array;
  readonly modes: Uint8Array;
}

/** What the MJML or HTML body compiles to, shared by every template with the same source. */
interface Body {
  readonly html: string;
  readonly htmlParsed: Parsed;
  /** The generated text, cut around sentinels that point into htmlParsed.slots. */
  readonly generatedText: { readonly chunks: readonly string[]; readonly slots: readonly number[] };
}

const CACHE_SIZE = 100;
// Per mjml2html function (the default import or a `lib` given), by include path and source.
const bodies = new WeakMap<object, BoundedMap<string, Promise<Body>>>();

// Sentinels put in the place of each HTML placeholder before html-to-text runs: control
// characters and digits, which no case transform (headings are upper-cased) or wrapping changes.
const SENTINEL_OPEN = '\u0001';
const SENTINEL_CLOSE = '\u0002';
const SENTINEL = /\u0001(\d+)\u0002/g;
const SENTINEL_CHARS = /[\u0001\u0002]/g;

function buildBody(html: string): Body {
  const htmlParsed = parsePlaceholders(html, 'html');
  let marked = htmlParsed.chunks[0]!.replace(SENTINEL_CHARS, '');
  for (let i = 0; i < htmlParsed.slots.length; i++) marked += `${SENTINEL_OPEN}${i}${SENTINEL_CLOSE}${htmlParsed.chunks[i + 1]!.replace(SENTINEL_CHARS, '')}`;
  const text = htmlToText(marked);
  const chunks: string[] = [];
  const slots: number[] = [];
  let from = 0;
  for (const m of text.matchAll(SENTINEL)) {
    chunks.push(text.slice(from, m.index));
    slots.push(Number(m[1]));
    from = m.index + m[0].length;
  }
  chunks.push(text.slice(from));
  return { html, htmlParsed, generatedText: { chunks, slots } };
}

async function compileBody(source: TemplateSource): Promise<Body> {
  if (source.html !== undefined) return buildBody(source.html);
  const mjml = source.mjml as string;
  const lib = source.lib ?? (await loadMjml());
  const key = `${source.includePath ?? ''}\u0000${mjml}`;
  let cache = bodies.get(lib);
  if (cache === undefined) bodies.set(lib, (cache = new BoundedMap(CACHE_SIZE, 'fifo')));
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const pending = (async () => {
    // Placeholders are checked in the MJML first, so that syntax errors carry MJML lines.
    const inSource = parsePlaceholders(mjml, 'mjml');
    const html = await compileMjml(mjml, lib, source.includePath);
    const body = buildBody(html);
    const reached = new Set(body.htmlParsed.slots.map((s) => s.name));
    const lost = inSource.slots.find((s) => !reached.has(s.name));
    if (lost !== undefined) {
      throw new TemplateError(`MJML line ${lost.line}: the variable \`${lost.name}\` does not reach the HTML that MJML produced (MJML dropped or transformed the attribute or element holding it)`, {
        part: 'mjml',
        line: lost.line,
      });
    }
    return body;
  })();
  cache.set(key, pending);
  // A failed compile is not kept: the next call reports the error again (or succeeds once fixed).
  pending.catch(() => {
    if (cache.peek(key) === pending) cache.delete(key);
  });
  return pending;
}

function checkSource(source: TemplateSource): void {
  if (typeof source !== 'object' || source === null) throw configError('template', 'an object { mjml, subject, text? }', source);
  const { mjml, html, subject, text, missing, includePath, lib } = source;
  if ((mjml === undefined) === (html === undefined)) {
    throw configError('mjml', 'a string of MJML (or `html`: give exactly one of them)', mjml === undefined ? mjml : 'both `mjml` and `html`');
  }
  if (mjml !== undefined && (typeof mjml !== 'string' || mjml.trim().length === 0)) throw configError('mjml', 'a non-empty string', mjml);
  if (html !== undefined && (typeof html !== 'string' || html.trim().length === 0)) throw configError('html', 'a non-empty string', html);
  if (typeof subject !== 'string') throw configError('subject', 'a string', subject);
  if (text !== undefined && typeof text !== 'string') throw configError('text', 'a string', text);
  if (missing !== undefined && missing !== 'error' && missing !== 'empty') throw configError('missing', "'error' or 'empty'", missing);
  if (includePath !== undefined && (typeof includePath !== 'string' || includePath.length === 0)) throw configError('includePath', 'a non-empty string', includePath);
  if (lib !== undefined && typeof lib !== 'function') throw configError('lib', 'the mjml2html function', lib);
}

function configError(option: string, expected: string, got: unknown): MailError {
  return new MailError(`Expected \`${option}\` of compileTemplate() to be ${expected}, got ${describeValue(got)}`, { code: MailErrorCode.CONFIG, option });
}

/**
 * Compiles a template once: MJML to HTML (strict validation, cached by source), placeholders
 * cut into chunks and slots, the text part generated with html-to-text when none is given.
 * Render the result per recipient with `template.render(vars)` or pass it as the `template`
 * field of a message to `mailer.send()` / `sendMany()` with per-recipient `vars`.
 *
 * Variables: `{{name}}` is HTML-escaped in the HTML and plain in the subject and text;
 * `{{{name}}}` inserts raw HTML (never use it with untrusted values); `{{user.first}}` reads a
 * dotted path (own properties only). MJML's typed attributes (colours, widths, paddings, ...)
 * cannot hold a variable: MJML validates them, and the compile fails with a TEMPLATE error
 * naming the attribute and its line.
 *
 * @throws TemplateError (code TEMPLATE) for MJML errors, an unclosed `{{`, a bad variable name
 *   or a variable in a typed MJML attribute, with `part` and `line`; CONFIG for a bad argument;
 *   MISSING_DEPENDENCY when the `mjml` package is not installed.
 *
 * @example
 * ```ts
 * import { compileTemplate } from 'mailpush/templates';
 *
 * const welcome = await compileTemplate({
 *   subject: 'Welcome, {{name}}',
 *   mjml: `<mjml><mj-body><mj-section><mj-column>
 *     <mj-text>Hello {{name}}, your plan is {{plan.label}}.</mj-text>
 *     <mj-button href="{{loginUrl}}">Sign in</mj-button>
 *   </mj-column></mj-section></mj-body></mjml>`,
 * });
 * const { subject, html, text } = welcome.render({ name: 'Ann', plan: { label: 'Pro' }, loginUrl: 'https://app.example.com/login' });
 * await mailer.send({ from: 'app@example.com', to: 'ann@example.org', template: welcome, vars: { name: 'Ann', plan: { label: 'Pro' }, loginUrl: '...' } });
 * ```
 */
export async function compileTemplate(source: TemplateSource): Promise<Template> {
  checkSource(source);
  const subject = parsePlaceholders(source.subject, 'subject');
  const givenText = source.text === undefined ? undefined : parsePlaceholders(source.text, 'text');
  const body = await compileBody(source);
  return new CompiledTemplate(source, body, subject, givenText);
}

// Strings for `null`/`undefined` style misses and the escape table.
const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const NEEDS_ESCAPE = /[&<>"']/;
const ESCAPE_ALL = /[&<>"']/g;

/**
 * HTML-escapes text for element content and quoted attribute values (`& < > " '`), as
 * `{{name}}` does in a template's HTML. It does not make a URL safe (check the scheme).
 *
 * @example
 * ```ts
 * import { escapeHtml } from 'mailpush/templates';
 *
 * escapeHtml(`Tom & "Jerry" <3`); // 'Tom &amp; &quot;Jerry&quot; &lt;3'
 * ```
 */
export function escapeHtml(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPE_ALL, (c) => HTML_ESCAPES[c]!) : value;
}

class CompiledTemplate implements Template {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  readonly variables: readonly string[];
  readonly #paths: readonly (readonly string[])[];
  readonly #missingIsError: boolean;
  readonly #subject: Program;
  readonly #html: Program;
  readonly #text: Program;

  constructor(source: TemplateSource, body: Body, subject: Parsed, givenText: Parsed | undefined) {
    const index = new Map<string, number>();
    const variable = (name: string): number => {
      let i = index.get(name);
      if (i === undefined) index.set(name, (i = index.size));
      return i;
    };
    const program = (parsed: { readonly chunks: readonly string[] }, names: readonly string[], modes: readonly Mode[]): Program => ({
      chunks: parsed.chunks,
      vars: Int32Array.from(names.map(variable)),
      modes: Uint8Array.from(modes),
    });
    this.#subject = program(subject, subject.slots.map((s) => s.name), subject.slots.map(() => PLAIN));
    const hs = body.htmlParsed.slots;
    this.#html = program(body.htmlParsed, hs.map((s) => s.name), hs.map((s) => (s.raw ? PLAIN : ESCAPE)));
    if (givenText !== undefined) {
      this.#text = program(givenText, givenText.slots.map((s) => s.name), givenText.slots.map(() => PLAIN));
      this.text = source.text as string;
    } else {
      const g = body.generatedText;
      const slots = g.slots.map((i) => hs[i]!);
      this.#text = program(g, slots.map((s) => s.name), slots.map((s) => (s.raw ? HTML_AS_TEXT : PLAIN)));
      let text = g.chunks[0]!;
      for (let i = 0; i < slots.length; i++) text += `${slots[i]!.raw ? '{{{' : '{{'}${slots[i]!.name}${slots[i]!.raw ? '}}}' : '}}'}${g.chunks[i + 1]!}`;
      this.text = text;
    }
    this.subject = source.subject;
    this.html = body.html;
    this.variables = Object.freeze([...index.keys()]);
    this.#paths = this.variables.map((name) => name.split('.'));
    this.#missingIsError = (source.missing ?? 'error') === 'error';
    Object.freeze(this);
  }

  render(vars?: Readonly<Record<string, unknown>>): RenderedMessage {
    if (vars !== undefined && (typeof vars !== 'object' || vars === null)) {
      throw new MailError(`Expected the template variables to be an object, got ${describeValue(vars)}`, { code: MailErrorCode.VALIDATION });
    }
    const values = this.#resolve(vars ?? {});
    return { subject: run(this.#subject, values), html: run(this.#html, values), text: run(this.#text, values) };
  }

  #resolve(vars: Readonly<Record<string, unknown>>): string[] {
    const paths = this.#paths;
    const values = new Array<string>(paths.length);
    let missing: string[] | undefined;
    for (let k = 0; k < paths.length; k++) {
      const path = paths[k]!;
      let cur: unknown = vars;
      for (let s = 0; s < path.length; s++) {
        const seg = path[s]!;
        // Own properties only: a path never reads Object.prototype or a class's methods.
        cur = typeof cur === 'object' && cur !== null && Object.hasOwn(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined;
        if (cur === undefined) break;
      }
      switch (typeof cur) {
        case 'string':
          values[k] = cur;
          break;
        case 'number':
        case 'bigint':
        case 'boolean':
          values[k] = String(cur);
          break;
        case 'undefined':
          values[k] = '';
          (missing ??= []).push(this.variables[k]!);
          break;
        default:
          if (cur === null) {
            values[k] = '';
            (missing ??= []).push(this.variables[k]!);
            break;
          }
          throw new TemplateError(`The template variable \`${this.variables[k]!}\` is ${describeValue(cur)}; give a string, number, bigint or boolean`, {});
      }
    }
    if (missing !== undefined && this.#missingIsError) {
      throw new TemplateError(`Missing template variable${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, { missing: Object.freeze(missing) });
    }
    return values;
  }
}

function run(program: Program, values: readonly string[]): string {
  const { chunks, vars, modes } = program;
  let out = chunks[0]!;
  for (let i = 0; i < vars.length; i++) {
    const v = values[vars[i]!]!;
    const mode = modes[i];
    out += mode === ESCAPE ? escapeHtml(v) : mode === HTML_AS_TEXT ? htmlFragmentToText(v) : v;
    out += chunks[i + 1]!;
  }
  return out;
}

export type { TemplatePart };

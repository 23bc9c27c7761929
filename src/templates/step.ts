/**
 * The template step of the shaping stage (see src/mailer/shape.ts): a message with
 * `template` and `vars` becomes a message with `subject`, `html` and `text`, before validation.
 *
 * This module is imported by the mailer core: it must not import mjml or html-to-text
 * (rendering a compiled template needs neither).
 *
 * @module
 * @internal
 */

import { MailError, MailErrorCode, describeValue, isMailError } from '../errors.js';
import type { ShapeContext, Shaper } from '../message/shape-step.js';
import type { MessageInput } from '../types.js';

/**
 * Variables the mailer supplies to every templated message, computed per message (per
 * recipient): for example `unsubscribeUrl` (a signed one-click link for this recipient and
 * list) and `postalAddress`. Called once per templated message, after `vars` were checked and
 * before rendering; return undefined when there is nothing to add.
 *
 * A built-in wins over a caller's variable of the same name, so a signed link cannot be
 * replaced by message data. Names should be plain identifiers (no dots).
 */
export type TemplateBuiltins = (input: MessageInput, ctx: ShapeContext) => Readonly<Record<string, string>> | undefined;

/** Options of {@link templateStep}. */
export interface TemplateStepOptions {
  /**
   * The mailer's built-in variables (see {@link TemplateBuiltins}). Wire it in createShapers,
   * e.g. `templateStep({ builtins: unsubscribeBuiltins(options) })`.
   */
  readonly builtins?: TemplateBuiltins;
}

function validation(message: string): MailError {
  return new MailError(message, { code: MailErrorCode.VALIDATION });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/**
 * The template step: renders `input.template` with `input.vars` (plus the built-ins) into
 * `subject`, `html` and `text` and removes `template` and `vars`. Messages without a template
 * pass through untouched at the cost of two property reads.
 *
 * - `vars` without `template`: VALIDATION error.
 * - `subject`, `html` or `text` together with `template`: VALIDATION error (the template
 *   renders all three; put a variable in the template instead).
 * - render failures (missing variables...): the template's TEMPLATE error, as thrown.
 */
export function templateStep(options: TemplateStepOptions = {}): Shaper {
  const builtins = options.builtins;
  return {
    input(input: MessageInput, ctx: ShapeContext): MessageInput {
      // Not an object: the normalizer's own typed error says so.
      if (typeof input !== 'object' || input === null) return input;
      // Each field read once (getters).
      const template = input.template;
      const vars = input.vars;
      if (template === undefined || template === null) {
        if (vars !== undefined && vars !== null) throw validation('The message has `vars` but no `template`');
        return input;
      }
      if (typeof template !== 'object' || typeof (template as { render?: unknown }).render !== 'function') {
        throw validation(`Expected \`template\` to be a compiled template (compileTemplate() from mailpush/templates), got ${describeValue(template)}`);
      }
      if (vars !== undefined && vars !== null && !isPlainObject(vars)) throw validation(`Expected \`vars\` to be a plain object, got ${describeValue(vars)}`);
      for (const field of ['subject', 'html', 'text'] as const) {
        if (input[field] !== undefined) {
          throw validation(`The message has both \`template\` and \`${field}\`: the template renders the subject, html and text; use a variable in the template instead`);
        }
      }
      const extra = builtins?.(input, ctx);
      const scope = extra === undefined ? (vars ?? {}) : { ...(vars ?? {}), ...extra };
      let rendered: { subject: unknown; html: unknown; text: unknown };
      try {
        rendered = template.render(scope);
      } catch (err) {
        if (isMailError(err)) throw err;
        throw new MailError(`The template could not render: ${err instanceof Error ? err.message : String(err)}`, { code: MailErrorCode.TEMPLATE, cause: err });
      }
      const { template: _template, vars: _vars, ...rest } = input;
      return { ...rest, subject: rendered.subject as string, html: rendered.html as string, text: rendered.text as string };
    },
  };
}

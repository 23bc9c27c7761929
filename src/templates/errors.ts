/**
 * The error of template compilation and rendering.
 *
 * @module
 */

import { MailError, MailErrorCode } from '../errors.js';

/** Which part of a template an error is about. */
export type TemplatePart = 'mjml' | 'html' | 'subject' | 'text';

/** Details of a {@link TemplateError}. */
export interface TemplateErrorDetails {
  /** The part of the template. */
  readonly part?: TemplatePart;
  /** 1-based line in that part's source (for MJML: the line MJML reports). */
  readonly line?: number;
  /** The MJML tag concerned (`mj-section`). */
  readonly tagName?: string;
  /** The MJML attribute concerned, for a variable in a typed attribute (`background-color`). */
  readonly attribute?: string;
  /** Variables that had no value, for a render error. */
  readonly missing?: readonly string[];
  /** Every MJML validation error, when MJML reported several. */
  readonly mjmlErrors?: readonly { readonly line: number; readonly tagName: string; readonly message: string }[];
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * A {@link MailError} with code `MAILPUSH_ERR_TEMPLATE` (`MailErrorCode.TEMPLATE`) and where
 * the problem is: the part, the line, the MJML tag and attribute, the missing variables.
 * Match on `error.code`; the extra fields are for messages and tooling.
 *
 * @example
 * ```ts
 * import { compileTemplate, TemplateError } from 'mailpush/templates';
 *
 * try {
 *   await compileTemplate({ mjml: source, subject: 'Hi {{name}}' });
 * } catch (err) {
 *   if (err instanceof TemplateError) console.error(`${err.part} line ${err.line}: ${err.message}`);
 * }
 * ```
 */
export class TemplateError extends MailError {
  /** The part of the template. */
  readonly part?: TemplatePart;
  /** 1-based line in that part's source. */
  readonly line?: number;
  /** The MJML tag concerned. */
  readonly tagName?: string;
  /** The MJML attribute concerned. */
  readonly attribute?: string;
  /** Variables that had no value (render errors). */
  readonly missing?: readonly string[];
  /** Every MJML validation error. */
  readonly mjmlErrors?: readonly { readonly line: number; readonly tagName: string; readonly message: string }[];

  constructor(message: string, details: TemplateErrorDetails = {}) {
    super(message, details.cause === undefined ? { code: MailErrorCode.TEMPLATE, retryable: false } : { code: MailErrorCode.TEMPLATE, retryable: false, cause: details.cause });
    this.name = 'TemplateError';
    if (details.part !== undefined) this.part = details.part;
    if (details.line !== undefined) this.line = details.line;
    if (details.tagName !== undefined) this.tagName = details.tagName;
    if (details.attribute !== undefined) this.attribute = details.attribute;
    if (details.missing !== undefined) this.missing = details.missing;
    if (details.mjmlErrors !== undefined) this.mjmlErrors = details.mjmlErrors;
  }

  /** The JSON form of a MailError, with the part, line, tag, attribute and missing variables. */
  override toJSON(): Record<string, unknown> {
    const out = super.toJSON();
    for (const k of ['part', 'line', 'tagName', 'attribute', 'missing'] as const) if (this[k] !== undefined) out[k] = this[k];
    return out;
  }
}

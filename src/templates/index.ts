/**
 * `mailpush/templates`: MJML templates compiled once and rendered per recipient.
 *
 * ```ts
 * import { compileTemplate } from 'mailpush/templates';
 *
 * const template = await compileTemplate({ subject: 'Hi {{name}}', mjml: source });
 * await mailer.send({ from: 'news@example.com', to: 'ann@example.org', template, vars: { name: 'Ann' } });
 * ```
 *
 * mjml (5.x) is an optional peer dependency, loaded on the first MJML compile: `npm install mjml`.
 *
 * @module
 */

export { compileTemplate, escapeHtml } from './compile.js';
export type { MissingVariables, Template, TemplateSource } from './compile.js';
export { TemplateError } from './errors.js';
export type { TemplateErrorDetails, TemplatePart } from './errors.js';
export type { Mjml2Html, Mjml2HtmlOptions } from './mjml.js';
export type { MessageTemplate, RenderedMessage } from '../types.js';

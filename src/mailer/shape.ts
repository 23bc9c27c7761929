/**
 * Shape: the steps that turn a message as given into the message that is journaled, signed and
 * sent. They run once, synchronously, at accept time, so the journal holds the final form, a
 * retry resends the same bytes, and DKIM (applied later, when the job is prepared) covers every
 * header and body change made here.
 *
 * Order matters and is fixed in {@link createShapers}:
 * 1. `input` steps run before validation (a template renders subject, html and text);
 * 2. `message` steps run on the normalized message: campaign headers (Feedback-ID), list
 *    headers (List-Unsubscribe), then link tracking last, so it can leave the unsubscribe link
 *    alone.
 *
 * A step that changes the body must keep the message valid (the normalizer's rules) and update
 * `sizeBytes`. Bad input is a thrown MailError, exactly like validation.
 *
 * @module
 * @internal
 */

import type { MessageInput, NormalizedMessage } from '../types.js';
import type { MailerOptions } from './options.js';
import type { ShapeContext, Shaper } from '../message/shape-step.js';
import { trackingShaper } from '../tracking/shaper.js';
import { templateStep } from '../templates/step.js';
import { createUnsubscribeShaper, unsubscribeBuiltins } from '../unsubscribe/shaper.js';
import { feedbackIdShaper } from '../campaigns/feedback-id.js';

export type { ShapeContext, ShapeSendOptions, Shaper } from '../message/shape-step.js';

/** The mailer's steps, in their fixed order, from its options. Features add their step here. */
export function createShapers(options: MailerOptions): readonly Shaper[] {
  void options;
  const steps: (Shaper | undefined)[] = [
    // templates, campaign headers, unsubscribe headers, tracking: in this order.
    templateStep({ builtins: unsubscribeBuiltins(options) }), // templates: input step; built-in variables (unsubscribeUrl, postalAddress) go in `{ builtins }`, see TemplateBuiltins
    feedbackIdShaper(options.feedbackId), // campaign headers: Feedback-ID (campaign:customer:category:SenderId), checks a given one
    createUnsubscribeShaper(options), // unsubscribe: List-Unsubscribe(+Post), body link, postal address; refuses non-compliant marketing mail
    trackingShaper(options), // tracking: last (leaves the unsubscribe link alone)
  ];
  return steps.filter((s): s is Shaper => s !== undefined);
}

/** Runs the `input` steps in order. */
export function shapeInput(shapers: readonly Shaper[], input: MessageInput, ctx: ShapeContext): MessageInput {
  let out = input;
  for (const s of shapers) if (s.input !== undefined) out = s.input(out, ctx);
  return out;
}

/** Runs the `message` steps in order. */
export function shapeMessage(shapers: readonly Shaper[], message: NormalizedMessage, ctx: ShapeContext): NormalizedMessage {
  let out = message;
  for (const s of shapers) if (s.message !== undefined) out = s.message(out, ctx);
  return out;
}

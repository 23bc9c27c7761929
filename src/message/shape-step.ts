/**
 * The contract of one shaping step (see the mailer's `shape` module for the order the mailer
 * runs them in). Features below the mailer (templates, campaign headers, unsubscribe, tracking)
 * implement it here without importing the mailer.
 *
 * @module
 * @internal
 */

import type { MessageInput, NormalizedMessage } from '../types.js';

/** The per-send options a step may read (a subset of the mailer's `SendOptions`). */
export interface ShapeSendOptions {
  /** Click/open tracking for this send (`SendOptions.track`). */
  readonly track?: boolean;
  /** Sends marketing mail without the list headers and postal address (`SendOptions.skipMarketingCompliance`). */
  readonly skipMarketingCompliance?: boolean;
}

/** What every step sees besides the message. */
export interface ShapeContext {
  readonly options: ShapeSendOptions;
  /** Accept time, ms since the epoch (the mailer's clock). */
  readonly now: number;
}

/** One shaping step; either hook may be left out. */
export interface Shaper {
  /** Before validation: may replace fields of the input (for example render a template). */
  readonly input?: (input: MessageInput, ctx: ShapeContext) => MessageInput;
  /** After normalization: may add headers or rewrite the body. Returns the message to journal. */
  readonly message?: (message: NormalizedMessage, ctx: ShapeContext) => NormalizedMessage;
}

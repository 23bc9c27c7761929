/**
 * The tracking step of the shaping stage (src/mailer/shape.ts): at accept time, for a message
 * sent with `{ track: true }` to a mailer with a `tracking` option, rewrites the links of the
 * HTML part to signed click URLs and adds the open pixel. It runs last among the message steps,
 * after the unsubscribe headers, and before DKIM signs (at prepare time), so the signature
 * covers the rewritten body.
 *
 * One recipient per tracked message: a token names its recipient, and one body is shared by
 * every recipient of a message, so a tracked message with several recipients (to, cc and bcc
 * together) is refused with a VALIDATION MailError. Send one message per recipient
 * (`sendMany`), which is also what per-recipient consent needs.
 *
 * @module
 */

import { MailError, MailErrorCode, describeValue } from '../errors.js';
import { validateMessageLimits } from '../message/index.js';
import type { MessageLimits } from '../message/index.js';
import type { NormalizedMessage } from '../types.js';
import type { ShapeContext, Shaper } from '../message/shape-step.js';
import { resolveTracking } from './config.js';
import type { TrackingConfig } from './config.js';
import { prefixOf } from './config.js';
import { scanLinks } from './rewrite.js';
import { encodeMessagePart, sealMessage } from './token.js';

/** What the shaper needs from the mailer options. */
interface ShaperOptions {
  readonly tracking?: unknown;
  readonly unsubscribe?: unknown;
  readonly messageLimits?: unknown;
}

/**
 * The tracking step for `createShapers`. Without a `tracking` option, the step only refuses
 * `track: true` (a tracked send on a mailer that cannot track is a mistake worth an error).
 *
 * @example
 * ```ts
 * const steps = [templateStep(...), createUnsubscribeShaper(options), trackingShaper(options)]; // last
 * ```
 * @internal
 */
export function trackingShaper(options: ShaperOptions): Shaper {
  if (options.tracking === undefined) {
    return {
      message: (m, ctx) => {
        const track = (ctx.options as { track?: unknown }).track;
        if (track === undefined || track === false) return m;
        checkTrackOption(track);
        throw new MailError('`track: true` needs the mailer option `tracking: { url, secrets }`', { code: MailErrorCode.VALIDATION });
      },
    };
  }
  const unsub = options.unsubscribe as { url?: unknown } | undefined;
  const config = resolveTracking(options.tracking, typeof unsub === 'object' && unsub !== null ? unsub.url : undefined);
  const maxBytes = validateMessageLimits(options.messageLimits as MessageLimits | undefined, 'messageLimits').maxBytes;
  return {
    message: (m, ctx) => {
      const track = (ctx.options as { track?: unknown }).track;
      if (track === undefined || track === false) return m;
      checkTrackOption(track);
      return trackMessage(config, m, ctx, maxBytes);
    },
  };
}

function checkTrackOption(track: unknown): void {
  if (track !== true) throw new MailError(`Expected \`track\` to be a boolean, got ${describeValue(track)}`, { code: MailErrorCode.VALIDATION });
}

/**
 * Rewrites one message (exported for the benchmark and tests).
 *
 * @example
 * ```ts
 * const tracked = trackMessage(resolveTracking(options.tracking), normalizedMessage, { now: Date.now() });
 * ```
 * @internal
 */
export function trackMessage(config: TrackingConfig, m: NormalizedMessage, ctx: Pick<ShapeContext, 'now'>, maxBytes?: number): NormalizedMessage {
  const recipients = m.to.length + m.cc.length + m.bcc.length;
  if (recipients !== 1) {
    throw new MailError(`A tracked message must have exactly one recipient (to, cc and bcc together), got ${recipients}: send one message per recipient`, {
      code: MailErrorCode.VALIDATION,
    });
  }
  const html = m.html;
  if (html === undefined || (!config.clicks && !config.opens)) return m;
  const recipient = (m.to[0] ?? m.cc[0] ?? m.bcc[0])!.address;
  const campaign = (m as { campaign?: unknown }).campaign;
  const part = encodeMessagePart({
    id: m.id,
    messageId: m.messageId,
    recipient,
    ...(typeof campaign === 'string' && campaign !== '' ? { campaign } : {}),
    issuedAt: ctx.now,
  });
  const sealer = sealMessage(config.keys, part);
  const { links, bodyEnd } = scanLinks(html);
  const out: string[] = [];
  let last = 0;
  let grew = 0;
  let count = 0;
  if (config.clicks) {
    const chosen = [];
    for (const link of links) {
      if (chosen.length >= config.maxLinks) break;
      if (!link.notrack && trackable(config, link.href)) chosen.push(link);
    }
    const tokens = sealer.clicks(chosen.map((l) => l.href));
    for (const link of chosen) {
      const replacement = `"${config.attrUrl}/c/${tokens[count++]!}"`;
      out.push(html.slice(last, link.start), replacement);
      grew += replacement.length - Buffer.byteLength(html.slice(link.start, link.end));
      last = link.end;
    }
  }
  let pixel = '';
  if (config.opens) {
    pixel = `<img src="${config.attrUrl}/o/${sealer.open()}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">`;
    grew += pixel.length;
  }
  if (count === 0 && pixel === '') return m;
  let rewritten: string;
  if (pixel !== '' && bodyEnd >= last) {
    out.push(html.slice(last, bodyEnd), pixel, html.slice(bodyEnd));
  } else {
    // No `</body>` after the last link (a fragment of HTML): the pixel goes at the end.
    out.push(html.slice(last), pixel);
  }
  rewritten = out.join('');
  const sizeBytes = m.sizeBytes + grew;
  if (maxBytes !== undefined && sizeBytes > maxBytes) {
    throw new MailError(`The message is about ${sizeBytes} bytes once its links are tracked, over the limit of ${maxBytes} bytes`, { code: MailErrorCode.TOO_LARGE });
  }
  return Object.freeze({ ...m, html: rewritten, sizeBytes });
}

/** Absolute http(s) links that are not skipped. */
function trackable(config: TrackingConfig, href: string): boolean {
  if (href.length < 8 || href.length > 4096) return false;
  const c = href.charCodeAt(0) | 0x20;
  if (c !== 104 /* h */) return false;
  if (!/^https?:\/\/[^/?#\s]/i.test(href)) return false;
  const prefix = prefixOf(href);
  for (const s of config.skip) if (prefix.startsWith(s)) return false;
  try {
    new URL(href);
  } catch {
    return false;
  }
  return true;
}

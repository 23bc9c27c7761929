/**
 * `mailpush/tracking`: consent-aware open and click tracking.
 *
 * - Create the mailer with `tracking: { url, secrets }` and send with `{ track: true }` only to
 *   recipients who consented: the HTML links become signed, opaque click URLs and a 1x1 pixel is
 *   added, at accept time, before DKIM signs.
 * - Serve {@link createTrackingHandler} at `url`: it redirects clicks to the original URL,
 *   answers the pixel, and reports `opened` / `clicked` feedback events (flagged
 *   `machineOpen` / `machineClick` for image proxies and link scanners) and campaign counts.
 *
 * @example
 * ```ts
 * import { createMailer, smtpTransport } from 'mailpush';
 * import { createTrackingHandler } from 'mailpush/tracking';
 *
 * const mailer = createMailer({ transport: smtpTransport({ host: 'localhost', port: 25 }), tracking: { url: 'https://t.example.com/t', secrets: [process.env.TRACKING_SECRET!] } });
 * await mailer.send({ from: 'news@example.com', to: 'ann@example.org', subject: 'Hi', html: '<a href="https://example.com/sale">Sale</a>' }, { track: true });
 * const handler = createTrackingHandler({ mailer }); // serve it at https://t.example.com/t
 * ```
 *
 * @module
 */

export type { TrackingOptions } from './config.js';
export { createTrackingHandler, PIXEL_GIF, TRACKING_COUNTERS } from './handler.js';
export type { TrackingHandler, TrackingHandlerError, TrackingHandlerOptions, TrackingHandlerStats, TrackingMailer } from './handler.js';
export { DEFAULT_MACHINE_RULES } from './machine.js';
export type { MachineRule, TrackingHit } from './machine.js';
export { NOTRACK_ATTRIBUTE } from './rewrite.js';

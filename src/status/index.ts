/**
 * `mailpush/status`: a live status page for a mailer (queue per lane, per-domain rates and
 * throttle states, the transport's state, recent failures, campaign progress), as a Fetch API
 * handler plus the Node adapter. No dependency.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createStatusHandler, toNodeHandler } from 'mailpush/status';
 *
 * createServer(toNodeHandler(createStatusHandler({ mailer }))).listen(8025, '127.0.0.1');
 * ```
 *
 * @module
 */

export { createStatusHandler } from './handler.js';
export type { StatusHandler, StatusHandlerOptions } from './handler.js';
export type { StatusCampaign, StatusDomain, StatusView } from './view.js';
export type { RecentFailure } from '../metrics/collector.js';
export { toNodeHandler } from '../http/node.js';
export type { NodeHandlerOptions, NodeRequest } from '../http/node.js';

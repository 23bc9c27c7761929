/**
 * The {@link PreparedMessage} handed to transports.
 *
 * @module
 */

import type { NormalizedMessage, PreparedMessage } from '../types.js';
import { composeMessage } from './compose.js';
import type { Envelope } from './compose.js';

/**
 * Builds the prepared message for one job. The MIME bytes are composed on first use only
 * (the SMTP transport composes while streaming and never calls `raw()`), then cached.
 */
export function prepareMessage(jobId: string, message: NormalizedMessage, envelope: Envelope): PreparedMessage {
  let raw: Promise<Buffer> | undefined;
  return {
    jobId,
    message,
    envelope,
    raw() {
      raw ??= composeMessage(message, envelope);
      return raw;
    },
  };
}

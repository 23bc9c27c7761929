/**
 * The {@link PreparedMessage} handed to transports.
 *
 * @module
 */

import type { MimeSigner, NormalizedMessage, PreparedMessage } from '../types.js';
import { composeMessage } from './compose.js';
import type { Envelope } from './compose.js';

/**
 * Builds the prepared message for one job. The MIME bytes are composed on first use only
 * (the SMTP transport composes while streaming and never calls `raw()`), then cached.
 *
 * With a `signer` (DKIM), `raw()` returns the message with the signature header fields on
 * top, and transports that compose themselves sign what they compose through
 * `prepared.signer`. Call this per attempt: each attempt is signed with a fresh `t=`.
 */
export function prepareMessage(jobId: string, message: NormalizedMessage, envelope: Envelope, signer?: MimeSigner): PreparedMessage {
  // One closure per prepared message (it runs for every attempt).
  let raw: Promise<Buffer> | undefined;
  const rawOnce = (): Promise<Buffer> => (raw ??= signer === undefined ? composeMessage(message, envelope) : composeSigned(message, envelope, signer));
  return signer === undefined ? { jobId, message, envelope, raw: rawOnce } : { jobId, message, envelope, raw: rawOnce, signer };
}

/** The composed message with the signature header fields on top. */
async function composeSigned(message: NormalizedMessage, envelope: Envelope, signer: MimeSigner): Promise<Buffer> {
  const bytes = await composeMessage(message, envelope);
  return Buffer.concat([Buffer.from(await signer.signatureHeaders(bytes), 'latin1'), bytes]);
}

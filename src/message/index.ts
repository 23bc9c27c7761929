/**
 * Messages: parsing addresses, normalizing and validating messages, composing MIME.
 *
 * @module
 */

export {
  MAX_ADDRESS_LENGTH,
  MAX_DISPLAY_NAME_LENGTH,
  MAX_DOMAIN_LENGTH,
  MAX_LOCAL_PART_LENGTH,
  domainOf,
  normalizeDomain,
  parseAddress,
  parseAddressList,
} from './address.js';
export {
  DEFAULT_MESSAGE_LIMITS,
  RECIPIENT_ENTRIES_FACTOR,
  createMessageId,
  normalizeMessage,
  recipientsByDomain,
  validateMessageLimits,
} from './normalize.js';
export type { MessageLimits, NormalizeOptions } from './normalize.js';
export { allRecipients, composeMessage, toMailOptions } from './compose.js';
export type { Envelope } from './compose.js';

/**
 * `mailpush/feedback`: bounces, complaints and provider events back into the host's storage.
 *
 * - {@link parseBounce} and {@link parseComplaint} read DSN and ARF mails;
 * - {@link createFeedbackHandler} receives Amazon SES (through SNS) and SendGrid webhooks,
 *   verifying signatures before anything is parsed;
 * - {@link createFeedbackProcessor} verifies what a bounce or complaint mail proves (VERP, a
 *   returned original matching a sent job), applies the
 *   {@link createSuppressionPolicy | suppression policy} and awaits the host's hook;
 * - {@link createVerp} makes per-job return paths for exact bounce correlation.
 *
 * @example
 * ```ts
 * import { createFeedbackHandler, createFeedbackProcessor, toNodeHandler } from 'mailpush/feedback';
 *
 * const processor = createFeedbackProcessor({ suppression: mailer.suppression, onEvent: (e) => db.events.insert(e) });
 * const handler = createFeedbackHandler({ processor, ses: { topicArns: [TOPIC_ARN] }, sendgrid: { publicKey: SG_KEY } });
 * http.createServer(toNodeHandler(handler)).listen(8080);
 * ```
 *
 * @module
 */

// Mail parsers
export { parseBounce } from './dsn.js';
export { parseComplaint } from './arf.js';
export { MAX_SCAN_LENGTH_LIMIT } from './mime.js';
export type {
  BounceKind,
  BounceAction,
  OriginalHeaders,
  BouncedRecipient,
  BounceResult,
  ParseBounceOptions,
  FeedbackType,
  ComplaintReport,
  ParseComplaintOptions,
} from './types.js';

// How a bounced recipient's reason is decided (the reference's order), explained, and its tables
export { decideBounceReason, hardFlag, statusReason, categoryOf, RETRY_REASONS, STATUS_REASONS } from '../classify/reason.js';
export type { BounceDecision, ReasonInput, ReasonVerdict } from '../classify/reason.js';
export { REASON_PHRASES, matchPhrases, hasReasonWording } from '../classify/phrases.js';
export type { Phrase, ReasonFamily } from '../classify/phrases.js';
export { HOST_RULES, findHostRule } from '../classify/hosts.js';
export type { HostRule, HostFacts, HostAnswer } from '../classify/hosts.js';

// The event
export { FEEDBACK_EVENT_TYPES, normalizeRecipient, checkFeedbackEvent, deriveEventId } from './event.js';
export type { FeedbackEvent, FeedbackEventType, FeedbackProvider } from './event.js';

// Processing and policy
export { createFeedbackProcessor } from './processor.js';
export type {
  FeedbackProcessor,
  FeedbackProcessorOptions,
  ProcessedEvent,
  IngestResult,
  IngestOptions,
  RawIngestResult,
  RawIngestOptions,
  RawFeedbackKind,
  CorrelationQuery,
  Correlation,
  RawTrust,
  FeedbackVerification,
  UnverifiedReason,
} from './processor.js';
export { createSuppressionPolicy, memorySoftBounceCounter, DEFAULT_SUPPRESSION_POLICY, NEVER_SUPPRESS_REASONS, NON_COMPLAINT_FEEDBACK_TYPES } from './policy.js';
export type { FeedbackPolicy, PolicyDecision, SoftBounceCounter, SuppressionPolicyOptions, MemorySoftBounceCounterOptions } from './policy.js';

// Webhooks
export { createFeedbackHandler, toNodeHandler, DEFAULT_FEEDBACK_MAX_BODY_BYTES, DEFAULT_REPLAY_RETENTION_MS } from './handler.js';
export type {
  FeedbackHandler,
  FeedbackHandlerOptions,
  FeedbackHandlerStats,
  FeedbackHandlerPaths,
  FeedbackHandlerError,
  SesHandlerOptions,
  SendGridHandlerOptions,
  NodeFeedbackRequest,
  NodeHandlerOptions,
} from './handler.js';
export {
  createSnsVerifier,
  parseSesNotification,
  snsStringToSign,
  isSigningCertUrl,
  isSubscribeUrl,
  defaultSnsFetcher,
  SnsVerificationError,
  SNS_MAX_FETCH_BYTES,
} from './sns.js';
export type { SnsVerifier, SnsVerifierOptions, SnsEnvelope, SnsMessageType, SnsFetcher, SnsFetchOptions, SesParseContext } from './sns.js';
export {
  createSendGridVerifier,
  parseSendGridEvents,
  readSendGridPublicKey,
  SendGridVerificationError,
  SENDGRID_SIGNATURE_HEADER,
  SENDGRID_TIMESTAMP_HEADER,
  SENDGRID_JOB_ID_ARG,
  SENDGRID_MESSAGE_ID_ARG,
} from './sendgrid-events.js';
export type { SendGridVerifier, SendGridVerifierOptions } from './sendgrid-events.js';

// VERP
export { createVerp } from './verp.js';
export type { Verp, VerpData, VerpOptions } from './verp.js';

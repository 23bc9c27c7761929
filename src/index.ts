/**
 * mailpush: an embeddable email push library for Node services. A priority queue with
 * per-recipient-domain rate limits, retries and adaptive throttling in front of pluggable
 * transports.
 *
 * @example
 * ```ts
 * import { createMailer, smtpTransport } from 'mailpush';
 *
 * const mailer = createMailer({ transport: smtpTransport({ host: 'smtp.example.com', port: 587 }) });
 * await mailer.send({ from: 'app@example.com', to: 'ann@example.org', subject: 'Hi', text: 'Hello' });
 * ```
 *
 * @module
 */

// The mailer
export { createMailer } from './mailer/index.js';
export type {
  Mailer,
  MailerOptions,
  SendOptions,
  SendReceipt,
  DeliveryReport,
  RecipientResult,
  RecipientStatus,
  CloseOptions,
  CloseResult,
  MailerStats,
  MailerTotals,
  MailerPreflightOptions,
  MailerFeedbackOptions,
  CampaignItem,
  SendManyOptions,
  CampaignProgress,
  CampaignResult,
  VerifyResult,
} from './mailer/index.js';
export type { MailerLogger, LogMethod } from './mailer/logging.js';

// Campaigns
export type { Campaign, CampaignCounts, CampaignStats, CampaignEvent, ComplaintRateEvent, ComplaintGuardControl } from './campaigns/types.js';
export { ComplaintGuard, resolveComplaintGuard } from './campaigns/complaint-guard.js';
export type { ComplaintGuardOptions, ComplaintLevel, ComplaintRate, ComplaintChange, ResolvedComplaintGuard } from './campaigns/complaint-guard.js';
export { FEEDBACK_ID_HEADER, FEEDBACK_ID_FIELD, FEEDBACK_SENDER_ID, formatFeedbackId, parseFeedbackId } from './campaigns/feedback-id.js';
export type { FeedbackIdOptions, FeedbackIdParts } from './campaigns/feedback-id.js';
export { CAMPAIGN_ID, CAMPAIGN_STATES, isCampaignId, newCampaignId } from './campaigns/ids.js';
export { CAMPAIGN_COUNTERS, CAMPAIGN_COUNTER_NAME } from './types.js';
export type { CampaignRecord, CampaignState, CampaignStore } from './types.js';

// Events
export type {
  MailerEvents,
  MailerListener,
  JobEventBase,
  QueuedEvent,
  SendingEvent,
  SentEvent,
  DeferredEvent,
  FailedEvent,
  FailureReason,
  ThrottledEvent,
  IdleEvent,
  ErrorEvent,
  RecoveredEvent,
  TransportDownEvent,
  TransportDownReason,
  TransportUpEvent,
} from './events.js';

// Errors
export { MailError, MailErrorCode, isMailError, mailErrorFromJSON } from './errors.js';
export type { MailErrorOptions, ErrorScope } from './errors.js';

// Shared types and contracts
export { PRIORITIES, systemClock } from './types.js';
export type {
  Address,
  AddressInput,
  Attachment,
  MessageCategory,
  MessageInput,
  MessageTemplate,
  RenderedMessage,
  NormalizedMessage,
  Priority,
  Job,
  JobState,
  StoredEntry,
  StoredResult,
  StoredStatus,
  StoredPage,
  QueueStore,
  MailerStore,
  IdempotencyStore,
  CorrelationStore,
  SentRecord,
  ReplayStore,
  SoftBounceCounter,
  SharedQueue,
  SharedLimiter,
  SharedLimiterGate,
  SuppressionEntry,
  SuppressionReason,
  SuppressionStore,
  Subscription,
  SubscriptionChange,
  SubscriptionCount,
  SubscriptionPage,
  SubscriptionResult,
  SubscriptionStatus,
  SubscriptionStore,
  Transport,
  TransportCapabilities,
  TransportSendContext,
  PreparedMessage,
  MimeSigner,
  SendResult,
  RejectedRecipient,
  Outcome,
  BounceCategory,
  ClassifyInput,
  Classification,
  Clock,
  TimerHandle,
} from './types.js';

// Queue limits and retries
export { DEFAULT_PRIORITY_WEIGHTS, DEFAULT_THROTTLE } from './queue/limits.js';
export type { DomainLimits, LimitsOptions, PriorityWeights, ThrottleOptions } from './queue/limits.js';
export type { DomainStats } from './queue/scheduler.js';
export { DEFAULT_RETRY, nextRetry } from './retry/schedule.js';
export type { RetryOptions, RetryDecision } from './retry/schedule.js';

// Classification
export {
  classify,
  createClassifier,
  defaultClassifier,
  defaultClassificationRules,
  classifiedError,
  parseRetryAfter,
  extractEnhancedStatus,
  extractResponseCode,
  parseEnhancedStatus,
  HARD_CATEGORIES,
  BOUNCE_CATEGORIES,
  OUTCOMES,
  HTTP_ERROR_CODE,
  MAX_RETRY_AFTER_MS,
} from './classify/index.js';
export type { Classifier, ClassifierOptions, ClassifiedErrorOptions, ClassificationRule, RuleCondition, RuleEffect } from './classify/index.js';

// Messages
export {
  parseAddress,
  parseAddressList,
  normalizeMessage,
  recipientsByDomain,
  composeMessage,
  DEFAULT_MESSAGE_LIMITS,
  RECIPIENT_ENTRIES_FACTOR,
} from './message/index.js';
export type { MessageLimits, NormalizeOptions, Envelope } from './message/index.js';

// Transports
export { default as smtpTransport } from './transports/smtp.js';
export type { SmtpTransportOptions, SmtpPasswordAuth, SmtpAccessTokenAuth, NodemailerModule } from './transports/smtp.js';
export { failover, roundRobin, memberFailureAction, FAILOVER_NAME, ROUND_ROBIN_NAME, DEFAULT_COOLDOWN_MS } from './transports/composite.js';
export { namedTransport } from './transports/named.js';
export type { CompositeOptions, CompositeTransport, WeightedTransport, MemberHealth, HealthChangeEvent, MemberFailureAction } from './transports/composite.js';
export { default as memoryTransport } from './transports/memory.js';
export type { MemoryTransport, MemoryTransportOptions, SentMail } from './transports/memory.js';

// DKIM signing
export { createDkimSigner, dkimDnsRecord, DKIM_SIGNED_HEADERS, DKIM_OVERSIGNED_HEADERS } from './auth/dkim.js';
export type { DkimAlgorithm, DkimKey, DkimKeyInfo, DkimOptions, DkimPrivateKey, DkimSigner, MessageSigner } from './auth/dkim.js';

// Stores
export { default as memoryQueueStore } from './stores/memory.js';
export type { MemoryQueueStore } from './stores/memory.js';
export { default as memorySuppressionStore } from './stores/suppression-memory.js';
export type { MemorySuppressionStore } from './stores/suppression-memory.js';
export { memorySubscriptionStore, MEMORY_SUBSCRIPTION_STORE_NAME } from './stores/subscriptions-memory.js';
export { memoryStore, MEMORY_STORE_NAME } from './stores/memory-store.js';
export { memoryCampaignStore, MEMORY_CAMPAIGN_STORE_NAME } from './stores/campaigns-memory.js';
export type { MemoryStoreOptions, MemoryMailerStore } from './stores/memory-store.js';
export { default as memoryIdempotencyStore, IDEMPOTENCY_STORE_NAME } from './stores/idempotency-memory.js';
export type { MemoryIdempotencyStore, MemoryIdempotencyStoreOptions } from './stores/idempotency-memory.js';
export { memorySoftBounceCounter, MAX_SOFT_BOUNCES_PER_ADDRESS } from './stores/soft-bounce-memory.js';
export type { MemorySoftBounceCounter, MemorySoftBounceCounterOptions } from './stores/soft-bounce-memory.js';
export { default as memoryCorrelationStore, CORRELATION_STORE_NAME, DEFAULT_CORRELATION_MAX_ENTRIES, DEFAULT_CORRELATION_RETENTION_MS } from './stores/correlation-memory.js';
export type { MemoryCorrelationStore, MemoryCorrelationStoreOptions } from './stores/correlation-memory.js';
export { default as memoryReplayStore, REPLAY_STORE_NAME, DEFAULT_REPLAY_MAX_ENTRIES } from './stores/replay-memory.js';
export type { MemoryReplayStore, MemoryReplayStoreOptions } from './stores/replay-memory.js';

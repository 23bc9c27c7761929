/**
 * `mailpush/testing`: everything a host application needs to test its own mail code
 * against mailpush: the test mailer, fault injection, a virtual clock and a real SMTP sink.
 * The conformance suites for transport and store authors live in `mailpush/testing/conformance`
 * (they need vitest).
 *
 * @module
 */

export { createTestMailer, compileMatcher } from './test-mailer.js';
export type { TestMailer, TestMailerOptions, MessageMatcher, TrackedMessage } from './test-mailer.js';
export { createTestClock, settle } from './clock.js';
export type { TestClock } from './clock.js';
export { FaultInjector, createFaultInjector, FAULT_PRESETS, resolveFault, faultError, formatReply, compileRecipientMatch } from '../transports/faults.js';
export type { Fault, FaultPreset, FaultReply, FaultRuleOptions, Latency, RecipientMatch } from '../transports/faults.js';
export { startSmtpSink } from './smtp-sink.js';
export type { SmtpSink, SmtpSinkOptions, SinkRule, SinkMessage, SinkStage, SinkTlsOptions } from './smtp-sink.js';
export { default as memoryTransport, TRANSPORT_NAME as MEMORY_TRANSPORT_NAME } from '../transports/memory.js';
export type { MemoryTransport, MemoryTransportOptions, SentMail } from '../transports/memory.js';
export { startSesServer, SES_SERVER_ERRORS, SES_FAULT_PRESETS } from './ses-server.js';
export type { SesServer, SesServerOptions, SesServerRule, SesReceivedMessage, SesFault, SesErrorName, SesErrorReply } from './ses-server.js';
export { startSendGridServer } from './sendgrid-server.js';
export type {
  SendGridServer,
  SendGridServerOptions,
  SendGridRequest,
  SendGridApiError,
  SendGridFault,
  SendGridFaultPreset,
  SendGridFaultResponse,
} from './sendgrid-server.js';
export { createMemoryResolver } from './dns.js';
export type { MemoryResolver, MemoryResolverOptions, MemoryZones, MemoryZoneRecords, MemoryDnsFault, MemoryDnsQuery } from './dns.js';
export { createSnsTestSigner, createSendGridTestSigner, selfSignedCertificate } from './feedback-signers.js';
export type { SnsTestSigner, SnsTestSignerOptions, SendGridTestSigner, SignedWebhookRequest, SnsNotificationOptions, UnsignedSnsMessage } from './feedback-signers.js';
export { verifyAuthentication, assertAuthenticated } from './authentication.js';
export type { AuthenticationResolver, ResolveFunctionHolder, AuthenticationVerdict, AuthenticationExpectations, DkimVerdict, VerifyAuthenticationOptions } from './authentication.js';

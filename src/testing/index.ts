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
export { FaultInjector, createFaultInjector, FAULT_PRESETS, resolveFault, faultError, formatReply, compileRecipientMatch } from './faults.js';
export type { Fault, FaultPreset, FaultReply, FaultRuleOptions, Latency, RecipientMatch } from './faults.js';
export { startSmtpSink } from './smtp-sink.js';
export type { SmtpSink, SmtpSinkOptions, SinkRule, SinkMessage } from './smtp-sink.js';
export { default as memoryTransport, TRANSPORT_NAME as MEMORY_TRANSPORT_NAME } from '../transports/memory.js';
export type { MemoryTransport, MemoryTransportOptions, SentMail } from '../transports/memory.js';

/**
 * Helpers of the bounce-format tests: short synthetic reports written for the tests, in the
 * general shape of a mail system's format (not copies of real bounces), and the one recipient
 * a report must yield.
 */
import { expect } from 'vitest';
import { parseBounce } from '../../src/feedback/dsn.js';
import type { BouncedRecipient } from '../../src/feedback/types.js';

/** A plain-text report from `from` with `subject` and `body` (extra header lines before MIME-Version). */
export function report(from: string, subject: string, body: string, headers: readonly string[] = []): string {
  return [`From: ${from}`, 'To: app@sender.example', `Subject: ${subject}`, 'Return-Path: <>', ...headers, 'MIME-Version: 1.0', 'Content-Type: text/plain', '', body].join('\n');
}

/** Parses `raw`, expects a bounce with exactly one recipient, and returns it. */
export function one(raw: string): BouncedRecipient {
  const r = parseBounce(raw);
  expect(r.kind).toBe('bounce');
  expect(r.recipients).toHaveLength(1);
  return r.recipients[0]!;
}

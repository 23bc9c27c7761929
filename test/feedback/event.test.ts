import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveEventId } from '../../src/feedback/event.js';
import type { FeedbackEvent } from '../../src/feedback/event.js';

describe('deriveEventId', () => {
  it('keeps its format: d: and the first 32 base64url characters of the SHA-256 of the identifying parts', () => {
    // Hosts store these ids to make their storage idempotent: a retried batch after an upgrade must give the same ones.
    const e: FeedbackEvent = { type: 'bounced', recipient: 'Ann@example.org', provider: 'dsn', timestamp: 1765000000000, messageId: '<m1@x.example>', reason: 'userunknown', status: '5.1.1', raw: {} };
    const parts = ['dsn', 'bounced', 'ann@example.org', '1765000000000', '<m1@x.example>', '', '', 'userunknown', '5.1.1', '', '', '', ''];
    const expected = `d:${createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32)}`;
    expect(deriveEventId(e)).toBe(expected);
    expect(deriveEventId(e)).toMatch(/^d:[A-Za-z0-9_-]{32}$/);
  });
});

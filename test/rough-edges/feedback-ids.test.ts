import { describe, expect, it } from 'vitest';
import { createTestMailer } from '../../src/testing/index.js';
import { deriveEventId } from '../../src/feedback/index.js';
import type { FeedbackEvent } from '../../src/feedback/index.js';

describe('stable feedback event ids', () => {
  it('gives every event an id; a retried batch gets the same ids; given ids are kept', async () => {
    const seen: FeedbackEvent[] = [];
    let failOnce = true;
    const mailer = createTestMailer({
      feedback: {
        onEvent: (event) => {
          seen.push(event);
          // The hook fails on the second event of the first delivery: the provider retries the whole batch.
          if (event.recipient === 'bob@example.org' && failOnce) {
            failOnce = false;
            throw new Error('database down');
          }
        },
      },
    });
    const batch: FeedbackEvent[] = [
      { type: 'delivered', recipient: 'ann@example.org', provider: 'postal', timestamp: 1_765_000_000_000, messageId: '<m1@example.com>', raw: {} },
      { type: 'bounced', recipient: 'bob@example.org', provider: 'postal', timestamp: 1_765_000_000_500, hard: true, raw: {} },
      { type: 'opened', recipient: 'cat@example.org', provider: 'postal', timestamp: 1_765_000_001_000, eventId: 'provider-42', raw: {} },
    ];
    await expect(mailer.feedback.ingest(batch)).rejects.toBeDefined();
    await mailer.feedback.ingest(batch);
    const byRecipient = (r: string) => seen.filter((e) => e.recipient === r).map((e) => e.eventId);
    // ann's hook ran twice (hooks must be idempotent): both times with one id.
    expect(byRecipient('ann@example.org')).toHaveLength(2);
    expect(new Set(byRecipient('ann@example.org')).size).toBe(1);
    expect(new Set(byRecipient('bob@example.org')).size).toBe(1);
    expect(byRecipient('cat@example.org')).toEqual(['provider-42']);
    for (const e of seen) expect(e.eventId).toMatch(/\S/);
    await mailer.close();
  });

  it('derives different ids for different events', () => {
    const base: FeedbackEvent = { type: 'clicked', recipient: 'ann@example.org', provider: 'tracking', timestamp: 1, url: 'https://a.example/', raw: {} };
    expect(deriveEventId(base)).toBe(deriveEventId({ ...base, raw: { other: 'payload' } }));
    expect(deriveEventId(base)).not.toBe(deriveEventId({ ...base, url: 'https://b.example/' }));
    expect(deriveEventId(base)).not.toBe(deriveEventId({ ...base, timestamp: 2 }));
    expect(deriveEventId(base)).toBe(deriveEventId({ ...base, recipient: 'ANN@example.org' }));
  });
});

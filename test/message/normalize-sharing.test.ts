import { describe, expect, it } from 'vitest';
import { normalizeMessage } from '../../src/index.js';
import { createMessageId } from '../../src/message/normalize.js';

const message = { from: 'App <app@example.com>', to: 'ann@example.org', subject: 'Hi', text: 'Hello' };

describe('normalizeMessage: shared and flat parts', () => {
  it('messages from the same From string share one frozen Address; another From gets its own', () => {
    const now = Date.now();
    const a = normalizeMessage(message, { now });
    const b = normalizeMessage({ ...message, to: 'bob@example.org' }, { now });
    const c = normalizeMessage({ ...message, from: 'Other <other@example.net>' }, { now });
    expect(a.from).toBe(b.from);
    expect(Object.isFrozen(a.from)).toBe(true);
    expect(a.from).toEqual({ name: 'App', address: 'app@example.com' });
    expect(c.from).toEqual({ name: 'Other', address: 'other@example.net' });
    // Back to the first sender: same value (a new memo entry), Message-ID domain follows From.
    const d = normalizeMessage(message, { now });
    expect(d.from).toEqual(a.from);
    expect(c.messageId).toMatch(/^<[0-9a-f-]{36}@example\.net>$/);
    expect(d.messageId).toMatch(/^<[0-9a-f-]{36}@example\.com>$/);
  });

  it('the id is msg_ and the 32 hex digits of the Message-ID uuid; messageIdDomain is applied and validated', () => {
    const m = normalizeMessage(message, { now: Date.now(), messageIdDomain: 'Mail.Example.COM' });
    const uuid = /^<([0-9a-f-]{36})@mail\.example\.com>$/.exec(m.messageId)?.[1];
    expect(uuid).toBeDefined();
    expect(m.id).toBe(`msg_${uuid!.replaceAll('-', '')}`);
    expect(() => normalizeMessage(message, { now: Date.now(), messageIdDomain: 'not a domain' })).toThrow(/messageIdDomain/);
  });

  it('ids are version 4 UUIDs, unique over more than one pool of random bytes, and follow a From domain that changes length', () => {
    const now = Date.now();
    const ids = new Set<string>();
    const senders = ['a@example.com', 'b@a-much-longer-domain.example', 'c@x.io', 'd@bücher.example'];
    for (let i = 0; i < 1000; i++) {
      const from = senders[i % senders.length]!;
      const m = normalizeMessage({ ...message, from }, { now });
      const domain = from.endsWith('bücher.example') ? 'xn--bcher-kva.example' : from.slice(from.indexOf('@') + 1);
      const match = /^<([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})@(.*)>$/.exec(m.messageId);
      expect(match?.[2]).toBe(domain);
      expect(m.id).toBe(`msg_${match![1]!.replaceAll('-', '')}`);
      ids.add(m.id);
    }
    expect(ids.size).toBe(1000);
    expect(createMessageId()).toMatch(/^msg_[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
  });
});

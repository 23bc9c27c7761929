/**
 * The SQLite store's codec on its send-path shortcuts: the JSON check shares one stack of the
 * objects it is inside of (it must leave it empty whatever happens), and a message without
 * binary attachments is stored as `JSON.stringify(message)` without a copy of its attachments.
 */
import { describe, expect, it } from 'vitest';
import { checkJson, decodeMessage, encodeMessage } from '../../src/stores/sqlite-codec.js';
import type { NormalizedMessage } from '../../src/types.js';
import { plainMessage } from './sqlite-helpers.js';

function message(attachments: NormalizedMessage['attachments'] = []): NormalizedMessage {
  return plainMessage('msg_codec', 'user@a.test', { attachments, metadata: { order: 7, lines: [{ sku: 'a' }] } });
}

describe('sqlite codec', () => {
  it('checks JSON data again after a check that threw inside a getter', () => {
    const shared = { a: 1 };
    const throwing = {
      get boom(): never {
        throw new Error('getter failed');
      },
    };
    expect(() => checkJson({ x: { y: throwing } }, 'metadata')).toThrow('getter failed');
    // The same object twice (not a cycle) still passes, a cycle still fails: nothing was left
    // behind on the shared stack by the check that threw.
    expect(() => checkJson({ first: shared, second: shared }, 'metadata')).not.toThrow();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => checkJson(cyclic, 'metadata')).toThrow('`metadata.self` cannot be stored: it contains a circular reference');
    expect(() => checkJson({ when: new Date(0) }, 'metadata')).toThrow('`metadata.when` cannot be stored: it is a Date');
    expect(() => checkJson({ ok: [1, 'two', null, { three: true }] }, 'metadata')).not.toThrow();
  });

  it('stores a message without binary attachments as its JSON', () => {
    const plain = message([{ filename: 'a.txt', content: 'text' }]);
    const encoded = encodeMessage(plain);
    expect(encoded).toEqual({ json: JSON.stringify(plain), bytes: null });
    expect(decodeMessage(encoded.json, encoded.bytes)).toEqual(plain);
  });

  it('keeps binary attachments apart, and refuses content that is neither text nor bytes', () => {
    const binary = message([
      { filename: 'a.txt', content: 'text' },
      { filename: 'b.bin', content: new Uint8Array([1, 2, 3]) },
    ]);
    const encoded = encodeMessage(binary);
    expect([...(encoded.bytes ?? [])]).toEqual([1, 2, 3]);
    expect(encoded.json).not.toContain('"content":{');
    expect(decodeMessage(encoded.json, encoded.bytes)).toEqual(binary);
    const odd = message([{ filename: 'c', content: 42 as unknown as string }]);
    expect(() => encodeMessage(odd)).toThrow('`attachments[].content` cannot be stored: it is 42');
  });
});

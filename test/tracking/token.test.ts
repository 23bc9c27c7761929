import { describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import { deriveTokenKeys, encodeMessagePart, openToken, sealToken } from '../../src/tracking/token.js';

const SECRET = 'a-tracking-secret-of-32-bytes!!!';
const OLD = 'the-previous-secret-0123456789ab';
const msg = { id: 'msg_0123456789abcdef0123456789abcdef', messageId: '<0123-4567@example.com>', recipient: 'ann.smith@example.org', campaign: 'spring-sale', issuedAt: 1_700_000_000_000 };

describe('tracking tokens', () => {
  it('round-trip the URL, the message, the recipient and the campaign', () => {
    const keys = deriveTokenKeys([SECRET]);
    const part = encodeMessagePart(msg);
    const url = 'https://shop.example.com/ünï/path?q=1&b=é#frag';
    const t = sealToken(keys, 'click', part, 7, url);
    expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(openToken(keys, 'click', t)).toEqual({ kind: 'click', ...msg, link: 7, url });
    const o = sealToken(keys, 'open', part);
    expect(openToken(keys, 'open', o)).toEqual({ kind: 'open', ...msg });
  });

  it('carry nothing readable: no address, URL or campaign in clear, in any encoding', () => {
    const keys = deriveTokenKeys([SECRET]);
    const t = sealToken(keys, 'click', encodeMessagePart(msg), 0, 'https://shop.example.com/cart');
    const decoded = Buffer.from(t, 'base64url').toString('latin1');
    for (const s of ['ann.smith', 'example.org', 'shop.example', 'spring-sale', 'msg_0123']) {
      expect(t).not.toContain(s);
      expect(decoded).not.toContain(s);
    }
  });

  it('refuse every single-character change, truncation, extension and the other kind', () => {
    const keys = deriveTokenKeys([SECRET]);
    const t = sealToken(keys, 'click', encodeMessagePart(msg), 0, 'https://example.com/a');
    const alphabet = 'AQgw_-0z';
    for (let i = 0; i < t.length; i++) {
      for (const c of alphabet) {
        if (c === t[i]) continue;
        const bad = t.slice(0, i) + c + t.slice(i + 1);
        expect(openToken(keys, 'click', bad), `changed at ${i}`).toBeUndefined();
      }
    }
    expect(openToken(keys, 'click', t.slice(0, -1))).toBeUndefined();
    expect(openToken(keys, 'click', t + 'A')).toBeUndefined();
    expect(openToken(keys, 'open', t)).toBeUndefined();
    for (const junk of ['', 'x', '../../etc/passwd', 'A'.repeat(9000), '%00'.repeat(20), 'é'.repeat(40)]) expect(openToken(keys, 'click', junk)).toBeUndefined();
  });

  it('sign with the first secret and verify with every secret (rotation)', () => {
    const before = deriveTokenKeys([OLD]);
    const after = deriveTokenKeys([SECRET, OLD]);
    const old = sealToken(before, 'click', encodeMessagePart(msg), 1, 'https://example.com/x');
    expect(openToken(after, 'click', old)?.url).toBe('https://example.com/x');
    const fresh = sealToken(after, 'click', encodeMessagePart(msg), 1, 'https://example.com/x');
    expect(openToken(deriveTokenKeys([SECRET]), 'click', fresh)?.url).toBe('https://example.com/x');
    expect(openToken(before, 'click', fresh)).toBeUndefined(); // the old key alone cannot read new links
    expect(openToken(deriveTokenKeys(['another-secret-entirely-123456']), 'click', old)).toBeUndefined();
  });

  it('refuse short or missing secrets with a CONFIG error naming the option', () => {
    expect(() => deriveTokenKeys([])).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, message: expect.stringContaining('tracking.secrets') }));
    expect(() => deriveTokenKeys(['short'])).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, message: expect.stringContaining('tracking.secrets[0]') }));
    expect(() => deriveTokenKeys('not-an-array-of-secrets')).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
  });
});

describe('token MAC', () => {
  it('is HMAC-SHA-256 (checked against node:crypto createHmac)', async () => {
    const { createHmac, hkdfSync } = await import('node:crypto');
    const keys = deriveTokenKeys([SECRET]);
    const t = sealToken(keys, 'open', encodeMessagePart(msg));
    const raw = Buffer.from(t, 'base64url');
    const macKey = Buffer.from(hkdfSync('sha256', Buffer.from(SECRET), Buffer.alloc(0), 'mailpush-tracking-v1', 64)).subarray(32);
    const expected = createHmac('sha256', macKey).update(raw.subarray(0, raw.length - 16)).digest().subarray(0, 16);
    expect(raw.subarray(raw.length - 16)).toEqual(expected);
  });

  it('gives every link of a message its own key stream bytes and opens each of them', async () => {
    const { sealMessage } = await import('../../src/tracking/token.js');
    const keys = deriveTokenKeys([SECRET]);
    const sealer = sealMessage(keys, encodeMessagePart(msg));
    const urls = Array.from({ length: 40 }, (_, i) => `https://example.com/${'x'.repeat(i)}?i=${i}`);
    const tokens = sealer.clicks(urls);
    const open = sealer.open();
    expect(tokens.map((t) => openToken(keys, 'click', t)?.url)).toEqual(urls);
    expect(openToken(keys, 'open', open)?.recipient).toBe(msg.recipient);
    const offsets = tokens.map((t) => Buffer.from(t, 'base64url').readUInt32BE(13));
    expect(new Set(offsets).size).toBe(40);
  });
});

describe('token size', () => {
  it('stores the generated id pair compactly and any other ids as given', () => {
    const keys = deriveTokenKeys([SECRET]);
    const hex = '93e949901b014363bc884c041580c83f';
    const generated = { ...msg, id: `msg_${hex}`, messageId: '<93e94990-1b01-4363-bc88-4c041580c83f@news.example.com>' };
    const custom = { ...msg, id: 'my-own-id', messageId: '<custom.id@example.com>' };
    for (const m of [generated, custom, { ...msg, id: `msg_${hex}`, messageId: '<other@example.com>' }]) {
      expect(openToken(keys, 'open', sealToken(keys, 'open', encodeMessagePart(m)))).toEqual({ kind: 'open', ...m });
    }
    expect(encodeMessagePart(generated).length).toBeLessThan(encodeMessagePart({ ...generated, id: `${generated.id}0` }).length - 50);
  });
});

describe('token encryption', () => {
  it('is AES-256-CTR (checked against node:crypto aes-256-ctr) at every offset', async () => {
    const { createCipheriv, hkdfSync } = await import('node:crypto');
    const { sealMessage } = await import('../../src/tracking/token.js');
    const keys = deriveTokenKeys([SECRET]);
    const part = encodeMessagePart(msg);
    const sealer = sealMessage(keys, part);
    const urls = ['https://example.com/a', 'https://example.com/bb?x=1', 'https://example.com/ccc#f'];
    const tokens = sealer.clicks(urls);
    const encKey = Buffer.from(hkdfSync('sha256', Buffer.from(SECRET), Buffer.alloc(0), 'mailpush-tracking-v1', 64)).subarray(0, 32);
    let stream: Buffer | undefined;
    for (const [i, t] of tokens.entries()) {
      const raw = Buffer.from(t, 'base64url');
      const nonce = raw.subarray(1, 13);
      stream ??= createCipheriv('aes-256-ctr', encKey, Buffer.concat([nonce, Buffer.alloc(4)])).update(Buffer.alloc(4096));
      const offset = raw.readUInt32BE(13);
      const ct = raw.subarray(17, raw.length - 16);
      const plain = Buffer.from(ct.map((b, j) => b ^ stream![offset + j]!));
      expect(plain.subarray(plain.length - Buffer.byteLength(urls[i]!)).toString()).toBe(urls[i]);
    }
  });
});

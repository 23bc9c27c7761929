import { simpleParser } from 'mailparser';
import type { AddressObject, ParsedMail } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import MimeNode from 'nodemailer/lib/mime-node';
import { describe, expect, it, vi } from 'vitest';
import { JOB_ID_HEADER, allRecipients, composeJobMessage, composeMessage, toMailOptions } from '../../src/message/compose.js';
import { normalizeMessage } from '../../src/message/normalize.js';
import type { MessageInput, NormalizedMessage } from '../../src/types.js';
import { countTurns } from '../helpers/turns.js';

const DATE = new Date('2024-05-06T07:08:09Z');
const PDF = new Uint8Array([0x25, 0x50, 0x44, 0x46, 0x2d, 0x31, 0x2e, 0x37, 0x00, 0xff, 0x10, 0x80]);
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
const SUBJECT = 'Grüße aus Köln – Ihre Bestellung ✓';

function fullMessage(overrides: Partial<Record<keyof MessageInput, unknown>> = {}): NormalizedMessage {
  const input = {
    from: 'Shop Example <shop@example.com>',
    to: ['Ann Example <ann@bücher.de>', 'bob@example.org'],
    cc: '"Doe, John" <john@example.net>',
    bcc: ['secret.one@hidden.example', 'Secret Two <secret.two@hidden.example>'],
    replyTo: 'Support <help@example.com>',
    subject: SUBJECT,
    text: 'Hello Ann,\nyour order has shipped.\n',
    html: '<p>Hello Ann, your order has <b>shipped</b>.</p><img src="cid:logo@example.com">',
    headers: { 'X-Campaign': 'spring', 'X-Tag': ['a', 'b'], 'List-Id': '<orders.example.com>' },
    attachments: [
      { filename: 'invoice.pdf', content: PDF },
      { filename: 'notes-ü.txt', content: 'Grüße\n' },
      { filename: 'logo.png', content: PNG, cid: 'logo@example.com' },
    ],
    messageId: 'order-123.shipped@example.com',
    date: DATE,
    ...overrides,
  };
  return normalizeMessage(input as MessageInput, { now: 0 });
}

async function composeAndParse(message: NormalizedMessage): Promise<{ raw: Buffer; head: string; parsed: ParsedMail }> {
  const raw = await composeMessage(message);
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  expect(end).toBeGreaterThan(0);
  return { raw, head: text.slice(0, end), parsed: await simpleParser(raw) };
}

function addresses(field: AddressObject | AddressObject[] | undefined): { address: string | undefined; name: string }[] {
  if (field === undefined) return [];
  return (Array.isArray(field) ? field : [field]).flatMap((f) => f.value.map((v) => ({ address: v.address, name: v.name })));
}

describe('normalize -> composeMessage -> parse', () => {
  it('writes From, To, Cc and Reply-To that parse back to the normalized addresses', async () => {
    const { parsed } = await composeAndParse(fullMessage());
    expect(addresses(parsed.from)).toEqual([{ address: 'shop@example.com', name: 'Shop Example' }]);
    // mailparser decodes the IDN domain back to Unicode; the raw header is checked below.
    expect(addresses(parsed.to)).toEqual([
      { address: 'ann@bücher.de', name: 'Ann Example' },
      { address: 'bob@example.org', name: '' },
    ]);
    expect(addresses(parsed.cc)).toEqual([{ address: 'john@example.net', name: 'Doe, John' }]);
    expect(addresses(parsed.replyTo)).toEqual([{ address: 'help@example.com', name: 'Support' }]);
  });

  it('never writes Bcc recipients into the message, only into the envelope', async () => {
    const message = fullMessage();
    const { raw, head, parsed } = await composeAndParse(message);
    expect(head).not.toMatch(/^bcc:/im);
    expect(raw.toString('latin1')).not.toContain('hidden.example');
    expect(raw.toString('latin1')).not.toContain('Secret Two');
    expect(parsed.bcc).toBeUndefined();
    expect(allRecipients(message)).toEqual([
      'ann@xn--bcher-kva.de',
      'bob@example.org',
      'john@example.net',
      'secret.one@hidden.example',
      'secret.two@hidden.example',
    ]);
    expect(toMailOptions(message).envelope).toEqual({ from: 'shop@example.com', to: allRecipients(message) });
  });

  it('writes the IDN domain in ASCII and keeps every header line ASCII and under 998 octets', async () => {
    const { raw, head } = await composeAndParse(fullMessage());
    expect(head).toMatch(/^To: .*ann@xn--bcher-kva\.de/m);
    expect(head).not.toContain('bücher');
    expect(head).toMatch(/^[\x00-\x7f]*$/);
    for (const line of raw.toString('latin1').split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
  });

  it('encodes the UTF-8 subject as an encoded-word that decodes to the original', async () => {
    const { head, parsed } = await composeAndParse(fullMessage());
    expect(head).toMatch(/^Subject: =\?UTF-8\?[BQ]\?/im);
    expect(parsed.subject).toBe(SUBJECT);
  });

  it('keeps the given Message-ID and Date', async () => {
    const { head, parsed } = await composeAndParse(fullMessage());
    expect(head).toMatch(/^Message-ID: <order-123\.shipped@example\.com>$/m);
    expect(parsed.messageId).toBe('<order-123.shipped@example.com>');
    expect(head).toMatch(/^Date: Mon, 06 May 2024 07:08:09 \+0000$/m);
    expect(parsed.date?.getTime()).toBe(DATE.getTime());
  });

  it('writes a generated Message-ID exactly once', async () => {
    const message = fullMessage({ messageId: undefined });
    const { head, parsed } = await composeAndParse(message);
    expect(head.match(/^Message-ID:/gim)).toHaveLength(1);
    expect(parsed.messageId).toBe(message.messageId);
  });

  it('writes From, Date, Message-ID, Subject, To and Cc exactly once (RFC 5322 3.6)', async () => {
    const { head } = await composeAndParse(fullMessage());
    for (const name of ['From', 'Date', 'Message-ID', 'Subject', 'To', 'Cc', 'Reply-To', 'MIME-Version']) {
      expect(head.match(new RegExp(`^${name}:`, 'gim')), name).toHaveLength(1);
    }
  });

  it('writes extra headers, repeated ones once per value', async () => {
    const { head, parsed } = await composeAndParse(fullMessage());
    expect(parsed.headers.get('x-campaign')).toBe('spring');
    expect(head.match(/^X-Tag: (a|b)$/gm)).toEqual(['X-Tag: a', 'X-Tag: b']);
    // nodemailer writes header names in its canonical case (List-ID).
    expect(head).toMatch(/^List-Id: <orders\.example\.com>$/im);
  });

  it('carries the bodies and every attachment with its bytes', async () => {
    const { parsed } = await composeAndParse(fullMessage());
    expect(parsed.text).toBe('Hello Ann,\nyour order has shipped.\n');
    expect(parsed.html).toContain('<b>shipped</b>');
    const byName = new Map(parsed.attachments.map((a) => [a.filename, a]));
    expect([...byName.keys()].sort()).toEqual(['invoice.pdf', 'logo.png', 'notes-ü.txt']);
    expect(byName.get('invoice.pdf')?.contentType).toBe('application/pdf');
    expect([...(byName.get('invoice.pdf')?.content ?? [])]).toEqual([...PDF]);
    expect(byName.get('notes-ü.txt')?.content.toString('utf8')).toBe('Grüße\n');
    expect(byName.get('logo.png')?.cid).toBe('logo@example.com');
    expect(byName.get('logo.png')?.contentDisposition).toBe('inline');
    expect(byName.get('logo.png')?.content.equals(PNG)).toBe(true);
  });

  it('decodes base64 and hex attachment strings', async () => {
    const { parsed } = await composeAndParse(
      fullMessage({
        attachments: [
          { filename: 'a.txt', content: Buffer.from('from base64').toString('base64'), encoding: 'base64' },
          { filename: 'b.txt', content: Buffer.from('from hex').toString('hex'), encoding: 'hex' },
        ],
      }),
    );
    expect(parsed.attachments.map((a) => a.content.toString())).toEqual(['from base64', 'from hex']);
  });

  it('keeps a quoted display name with a comma as one address', async () => {
    const { parsed } = await composeAndParse(fullMessage({ to: '"Doe, Jane" <jane@example.com>', cc: undefined }));
    expect(addresses(parsed.to)).toEqual([{ address: 'jane@example.com', name: 'Doe, Jane' }]);
  });

  it('gives a composed size close to the estimate', async () => {
    const message = fullMessage();
    const { raw } = await composeAndParse(message);
    expect(message.sizeBytes).toBeGreaterThan(raw.length * 0.5);
    expect(message.sizeBytes).toBeLessThan(raw.length * 2);
  });
});

describe('toMailOptions: header names that are object keys', () => {
  it('keeps a header named like an Object.prototype property as an ordinary header', async () => {
    // normalizeMessage refuses these names; a message built by hand (or a later stage that
    // adds headers) must still not turn them into prototype lookups.
    const base = fullMessage({ headers: undefined });
    const message: NormalizedMessage = { ...base, headers: [['constructor', 'Y'], ['X-A', '1']] };
    const options = toMailOptions(message);
    expect(Object.getPrototypeOf(options.headers)).toBe(null);
    expect({ ...(options.headers as object) }).toEqual({ constructor: 'Y', 'X-A': '1' });
    const raw = (await composeMessage(message)).toString('latin1');
    expect(raw).toMatch(/^Constructor: Y\r$/m);
    expect(raw).not.toContain('function');
  });
});

/** Replaces each multipart boundary by its order of appearance, so that two compositions of a message compare byte for byte. */
/** Header fields nodemailer does not MIME-encode: their non-ASCII text goes into the header block as UTF-8. */
const UTF8_HEADERS = { 'In-Reply-To': '<grüße.1@example.com>', References: '<ä@example.org> <b@example.net>  <日本@example.jp>', 'OTP-Token': 'Köln ✓ 😀', 'X-Note': 'Grüße' };

function sameBoundaries(raw: Buffer): string {
  const text = raw.toString('latin1');
  const names = [...text.matchAll(/boundary="([^"]+)"/g)].map((m) => m[1]!);
  let out = text;
  names.forEach((name, i) => {
    out = out.split(name).join(`BOUNDARY-${i}`);
  });
  return out;
}

describe('composeMessage without streams', () => {
  const paragraph = 'Grüße, your order has shipped.  Trailing spaces here   \nA line of exactly seventy-six characters, to land on the soft-break edge: =x\n';
  const cases: [string, NormalizedMessage][] = [
    ['text only', fullMessage({ html: undefined, attachments: undefined, cc: undefined, replyTo: undefined })],
    ['html only', fullMessage({ text: undefined, attachments: undefined })],
    ['text and html', fullMessage({ attachments: undefined })],
    ['text, html, attachments and an inline image', fullMessage()],
    ['long lines, trailing whitespace, tabs, CR and 8-bit text', fullMessage({ text: paragraph.repeat(40) + '\tend\t \r\n\r', html: `<p>${'ü x '.repeat(500)}</p>\t \n` })],
    ['a text attachment with a lone CR, and an empty body', fullMessage({ text: '', html: undefined, attachments: [{ filename: 'a.txt', content: 'one\rtwo\nthree \r\n' }] })],
    ['a large binary attachment', fullMessage({ attachments: [{ filename: 'big.bin', content: new Uint8Array(200_000).map((_, i) => (i * 7919) % 256) }] })],
    ['header fields nodemailer writes as UTF-8 (In-Reply-To, References, OTP-Token)', fullMessage({ headers: UTF8_HEADERS })],
  ];

  it.each(cases)('writes the same bytes as nodemailer\'s streaming build: %s', async (_, message) => {
    const expected = await new MailComposer(toMailOptions(message)).compile().build();
    expect(sameBoundaries(await composeMessage(message))).toBe(sameBoundaries(expected));
  });

  it('takes no stream: nodemailer\'s build() is not called for inline content', async () => {
    const build = vi.spyOn(MimeNode.prototype, 'build');
    try {
      await composeMessage(fullMessage());
      expect(build).not.toHaveBeenCalled();
    } finally {
      build.mockRestore();
    }
  });

  it('takes no stream for a header block that is not ASCII, and writes it as UTF-8', async () => {
    const message = fullMessage({ headers: UTF8_HEADERS });
    const build = vi.spyOn(MimeNode.prototype, 'build');
    let raw: Buffer;
    try {
      raw = await composeMessage(message);
      expect(build).not.toHaveBeenCalled();
    } finally {
      build.mockRestore();
    }
    expect(raw.includes(Buffer.from('In-Reply-To: <grüße.1@example.com>\r\n', 'utf8'))).toBe(true);
    expect(raw.includes(Buffer.from('\r\nOTP-Token: Köln ✓ 😀\r\n', 'utf8'))).toBe(true);
    expect((await simpleParser(raw)).inReplyTo).toBe('<grüße.1@example.com>');
  });

  it('adds the job id as the last header field while composing, the bytes of a copy with that header', async () => {
    const message = fullMessage();
    const composed = await composeJobMessage(message, 'job_42');
    const copy: NormalizedMessage = { ...message, headers: [...message.headers, [JOB_ID_HEADER, 'job_42']] };
    expect(sameBoundaries(composed)).toBe(sameBoundaries(await composeMessage(copy)));
    // nodemailer writes the name as X-Mailpush-Job-ID (its header-name normalization, as before).
    expect(composed.toString('latin1')).toMatch(/\r\nX-Mailpush-Job-Id: job_42\r\n/i);
    expect(message.headers.some(([name]) => name === JOB_ID_HEADER)).toBe(false);
    expect((await simpleParser(composed)).headers.get('x-mailpush-job-id')).toBe('job_42');
  });
});

describe('composeMessage of large messages, in slices', () => {
  /** Bytes that do not repeat with any period a chunked encoder could hide a mistake behind. */
  function noise(length: number, seed = 1): Buffer {
    const out = Buffer.allocUnsafe(length);
    let x = seed >>> 0 || 1;
    for (let i = 0; i < length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  }
  const CHUNK = 57 * 1024;
  /** Text with 8-bit characters, long lines, CRLF and LF, and whitespace across each 64 KiB slice edge of the encoder's input. */
  function awkwardText(length: number): string {
    const words = ['Grüße', 'order', 'shipped.', 'x=y', '\t', ' ', 'München,', '✓', 'a'.repeat(90), '\r\n', '\n', '  \n', '=\n'];
    const parts: string[] = [];
    let bytes = 0;
    let edge = 65536;
    for (let i = 0; bytes < length; i++) {
      if (bytes > edge - 200) {
        // Pad up to 3 bytes before the edge, then whitespace over it.
        parts.push('b'.repeat(edge - 3 - bytes), ' \t   ');
        bytes = edge + 3;
        edge += 65536;
        continue;
      }
      const w = words[(i * 7 + 3) % words.length]! + (i % 3 === 0 ? ' ' : '');
      parts.push(w);
      bytes += Buffer.byteLength(w);
    }
    return parts.join('');
  }
  const cases: [string, () => NormalizedMessage][] = [
    ['a 1 MB binary attachment', () => fullMessage({ attachments: [{ filename: 'big.bin', content: noise(1_000_003) }] })],
    ['attachments of exactly one and two encoder chunks, and one byte either side', () =>
      fullMessage({ attachments: [CHUNK, 2 * CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK + 2, 57, 1].map((n, i) => ({ filename: `f${i}.bin`, content: noise(n, i + 7) })) })],
    ['an attachment given as a base64 string', () => fullMessage({ attachments: [{ filename: 'b.pdf', content: noise(300_001, 3).toString('base64'), encoding: 'base64' }] })],
    ['large quoted-printable text and html bodies', () => fullMessage({ text: awkwardText(300_000), html: `<p>${awkwardText(200_000)}</p>\t `, attachments: undefined })],
    ['a large quoted-printable body ending in whitespace', () => fullMessage({ text: `${awkwardText(140_000)}   \t`, html: undefined, attachments: undefined })],
    ['a large 7bit body', () => fullMessage({ text: 'plain ascii line of text\n'.repeat(20_000), html: undefined, attachments: undefined })],
    ['a large text attachment', () => fullMessage({ attachments: [{ filename: 'log.txt', content: awkwardText(150_000) }] })],
    ['a large body of mostly non-Latin text (base64 for text/*)', () => fullMessage({ text: 'Доставка заказа №42 — 東京へ配送中です。\n'.repeat(12_000), html: undefined, attachments: undefined })],
    ['large text/* attachments given as bytes: UTF-8 text and bytes that are not UTF-8', () =>
      fullMessage({
        attachments: [
          { filename: 'data.csv', content: Buffer.from('name;city\nJürgen;Köln\n'.repeat(20_000), 'utf8') },
          { filename: 'mixed.txt', content: Buffer.concat([Buffer.from('Latin letters and more Latin letters. '.repeat(9_000)), noise(300_000, 9)]) },
        ],
      })],
    ['large text with surrogate pairs across the 256 Ki-character chunk edges of its UTF-8 conversion', () => {
      const edge = 256 * 1024;
      const text = `${'Grüße '.repeat(Math.floor((edge - 1) / 6))}${'x'.repeat((edge - 1) % 6)}😀${'ab '.repeat(Math.floor(edge / 3))}${'y'.repeat(edge % 3 === 0 ? 0 : 3 - (edge % 3))}🚚 end\n`;
      expect(text.charCodeAt(edge - 1)).toBe(0xd83d);
      return fullMessage({ text, html: `<p>${text}</p>`, attachments: [{ filename: 'notes.txt', content: text }, { filename: 'data.json', contentType: 'application/json', content: text }] });
    }],
    ['a 1 MB attachment, with header fields nodemailer writes as UTF-8', () => fullMessage({ headers: UTF8_HEADERS, attachments: [{ filename: 'Grüße ✓.bin', content: noise(1_000_001, 11) }] })],
    ['many small parts over the threshold together', () => fullMessage({ attachments: Array.from({ length: 40 }, (_, i) => ({ filename: `p${i}.png`, content: noise(3_000 + i, i + 1) })) })],
  ];

  it.each(cases)('writes the same bytes as nodemailer\'s streaming build: %s', async (_, make) => {
    const message = make();
    const expected = await new MailComposer(toMailOptions(message)).compile().build();
    const build = vi.spyOn(MimeNode.prototype, 'build');
    let actual: Buffer;
    try {
      actual = await composeMessage(message);
      expect(build).not.toHaveBeenCalled();
    } finally {
      build.mockRestore();
    }
    expect(actual.length).toBe(expected.length);
    expect(sameBoundaries(actual)).toBe(sameBoundaries(expected));
  }, 30_000);

  it('gives the event loop turns while it encodes a 5 MB attachment', async () => {
    const message = fullMessage({ attachments: [{ filename: 'big.bin', content: noise(5_000_000) }] });
    const counter = countTurns();
    const composing = composeMessage(message).then((raw) => {
      counter.stop();
      return raw;
    });
    const turnsBefore = counter.turns;
    const raw = await composing;
    expect(counter.turns - turnsBefore).toBeGreaterThan(1);
    expect((await simpleParser(raw)).attachments[0]?.content.equals(noise(5_000_000))).toBe(true);
  }, 30_000);
});

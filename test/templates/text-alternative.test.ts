import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import { createMailer } from '../../src/mailer/index.js';
import { normalizeMessage } from '../../src/message/normalize.js';
import { htmlFragmentToText, htmlToText } from '../../src/message/text-alternative.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import type { SmtpSink } from '../../src/testing/smtp-sink.js';
import memoryTransport from '../../src/transports/memory.js';
import smtpTransport from '../../src/transports/smtp.js';

const HTML = `<!doctype html><html><head><title>Order</title><style>p{color:red}</style></head>
<body><h1>Order shipped</h1><p>Hello Ann,<br>your order <b>#123</b> is on its way.</p>
<p><a href="https://shop.example.com/track/123">Track it</a> or <a href="https://shop.example.com/">https://shop.example.com/</a></p>
<img src="https://shop.example.com/logo.png" alt="Shop"><ul><li>Pen</li><li>Ink &amp; paper</li></ul></body></html>`;

describe('text alternative of HTML-only messages', () => {
  it('normalizeMessage adds a text part made from the HTML', () => {
    const m = normalizeMessage({ from: 'shop@example.com', to: 'ann@example.org', subject: 'Shipped', html: HTML }, { now: 0 });
    expect(m.html).toBe(HTML);
    expect(m.text).toContain('ORDER SHIPPED');
    expect(m.text).toContain('Hello Ann,\nyour order #123 is on its way.');
    expect(m.text).toContain('Track it [https://shop.example.com/track/123]');
    // A link whose text is its URL is printed once; images and head content are left out.
    expect(m.text).toContain('or https://shop.example.com/\n');
    expect(m.text).not.toMatch(/logo\.png|color:red|<|Order\n/);
    expect(m.text).toContain('* Ink & paper');
    // The size estimate counts it.
    const withText = normalizeMessage({ from: 'shop@example.com', to: 'ann@example.org', subject: 'Shipped', html: HTML, text: m.text! }, { now: 0 });
    expect(m.sizeBytes).toBe(withText.sizeBytes);
  });

  it('keeps a given text part untouched and never converts it', () => {
    const m = normalizeMessage({ from: 'shop@example.com', to: 'ann@example.org', html: '<p>HTML</p>', text: 'My own text' }, { now: 0 });
    expect(m.text).toBe('My own text');
    const textOnly = normalizeMessage({ from: 'shop@example.com', to: 'ann@example.org', text: 'only text' }, { now: 0 });
    expect(textOnly.html).toBeUndefined();
  });

  it('converts a repeated body once (a campaign of one HTML body pays once)', () => {
    const html = `<p>cache probe ${Math.random()}</p>`;
    const first = htmlToText(html);
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) expect(htmlToText(html)).toBe(first);
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('refuses template and vars given straight to normalizeMessage (the mailer renders them)', () => {
    expect(() => normalizeMessage({ from: 'a@example.com', to: 'b@example.org', text: 'x', vars: {} }, { now: 0 })).toThrow(expect.objectContaining({ code: MailErrorCode.VALIDATION }));
  });

  it('htmlFragmentToText: links, breaks, lists, entities; plain text as is', () => {
    expect(htmlFragmentToText('plain & simple')).toBe('plain & simple');
    expect(htmlFragmentToText('just text')).toBe('just text');
    expect(htmlFragmentToText('<p>One<br/>two</p><p>three &amp; &#8364;5 &#x2713;</p>')).toBe('One\ntwo\nthree & €5 ✓');
    expect(htmlFragmentToText('<a href="https://x.example/?a=1&amp;b=2">Go <b>now</b></a>')).toBe('Go now [https://x.example/?a=1&b=2]');
    expect(htmlFragmentToText("<a href='https://x.example/'>https://x.example/</a>")).toBe('https://x.example/');
    expect(htmlFragmentToText('<ul><li>a</li><li>b</li></ul><script>evil()</script><style>p{}</style>')).toBe('* a\n* b');
    expect(htmlFragmentToText('&bogus; &#0; &#xD800;')).toBe('&bogus; &#0; &#xD800;');
  });
});

describe('an HTML-only send through a real SMTP server', () => {
  let sink: SmtpSink | undefined;
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });

  it('arrives as multipart/alternative with the generated text part', async () => {
    sink = await startSmtpSink({ parse: true, keepRaw: true });
    const mailer = createMailer({ transport: smtpTransport({ host: sink.host, port: sink.port, ignoreTLS: true }) });
    try {
      const receipt = await mailer.send({ from: 'shop@example.com', to: 'ann@example.org', subject: 'Shipped', html: HTML });
      expect((await receipt.done()).status).toBe('sent');
    } finally {
      await mailer.close();
    }
    await sink.waitFor(1);
    const raw = sink.messages[0]!.raw!.toString();
    expect(raw).toMatch(/Content-Type: multipart\/alternative/i);
    const parsed = await simpleParser(raw);
    expect(parsed.text).toContain('Track it [https://shop.example.com/track/123]');
    expect(parsed.html).toContain('<h1>Order shipped</h1>');
  });

  it('leaves a text-only message as a single text part', async () => {
    const transport = memoryTransport({ composeRaw: true });
    const mailer = createMailer({ transport });
    try {
      await (await mailer.send({ from: 'shop@example.com', to: 'ann@example.org', subject: 'T', text: 'Just text' })).done();
    } finally {
      await mailer.close();
    }
    const raw = transport.sent[0]!.raw!.toString();
    expect(raw).not.toMatch(/multipart|text\/html/i);
  });
});

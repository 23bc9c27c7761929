/**
 * The HTML link scan and the tracking step on real messages: a rewritten body, parsed by a real
 * HTML parser (htmlparser2, as html-to-text uses it), has the same links once each tracking URL
 * is followed back through its token.
 */
import { parseDocument, DomUtils } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import { createMailer } from '../../src/mailer/index.js';
import { normalizeMessage } from '../../src/message/index.js';
import memoryTransport from '../../src/transports/memory.js';
import { resolveTracking } from '../../src/tracking/config.js';
import { decodeEntities, scanLinks } from '../../src/tracking/rewrite.js';
import { trackMessage } from '../../src/tracking/shaper.js';
import { openToken } from '../../src/tracking/token.js';
import type { MessageInput } from '../../src/types.js';

const BASE = 'https://t.example.com/t';
const tracking = { url: BASE, secrets: ['a-tracking-secret-of-32-bytes!!!'] };
const config = resolveTracking(tracking, 'https://u.example.com/unsub');
const NOW = 1_700_000_000_000;

function hrefs(html: string): string[] {
  const doc = parseDocument(html, { decodeEntities: true, lowerCaseAttributeNames: true });
  return DomUtils.findAll((e) => (e.name === 'a' || e.name === 'area') && e.attribs.href !== undefined, doc.children).map((e) => e.attribs.href!.trim());
}

/** Follows a tracking URL back to the URL a browser would land on; other links as a browser reads them. */
function landing(href: string): string {
  if (href.startsWith(`${BASE}/c/`)) {
    const data = openToken(config.keys, 'click', href.slice(BASE.length + 3));
    if (data === undefined) throw new Error(`bad token in ${href}`);
    return new URL(data.url!).href;
  }
  try {
    return new URL(href).href;
  } catch {
    return href;
  }
}

function track(html: string, extra: Partial<MessageInput> = {}) {
  const m = normalizeMessage({ from: 'news@example.com', to: 'ann@example.org', subject: 's', html, ...extra }, { now: NOW });
  return { before: m, after: trackMessage(config, m, { now: NOW }) };
}

const PAGE = `<!DOCTYPE html><html><head><title><a href="https://not-a-link.example/">x</a></title>
<style>a[href="https://css.example/"] { color: red }</style></head><BODY>
<p>Hello <A HREF="https://Shop.Example.com/sale?utm_source=mail&amp;utm_medium=email#top">sale</A></p>
<a href='https://example.com/single?x=1&#38;y=2'>single</a>
<a href=https://example.com/unquoted?a=b>unquoted</a>
<a class="btn" data-x='>' href="https://example.com/after-gt-in-attr">gt in attr</a>
<a href="  https://example.com/spaces  ">spaces</a>
<a href="https://例え.テスト/パス?q=ü&amp;r=%20#frag">unicode</a>
<a href="mailto:help@example.com">mail</a> <a href="tel:+15551234">call</a> <a href="#section">anchor</a>
<a href="https://u.example.com/unsub/TOKEN123">unsubscribe</a>
<a href="https://example.com/keep" data-mailpush-notrack>keep</a>
<a href="/relative">relative</a> <a href="javascript:alert(1)">js</a> <a>no href</a>
<!-- <a href="https://commented.example/">commented</a> -->
<!--[if mso]><v:roundrect href="https://example.com/outlook-button" arcsize="10%"><![endif]-->
<map><area shape="rect" coords="0,0,1,1" href="https://example.com/area"></map>
<script>var s = '<a href="https://script.example/">';</script>
<a href="https://example.com/&quot;quoted&quot;">entity quote</a>
</BODY></html>`;

describe('scanLinks', () => {
  it('finds links in any case and quoting, decodes entities, skips comments, script, style and title', () => {
    const found = scanLinks(PAGE).links.map((l) => [l.tag, l.href, l.notrack]);
    expect(found).toEqual([
      ['a', 'https://Shop.Example.com/sale?utm_source=mail&utm_medium=email#top', false],
      ['a', 'https://example.com/single?x=1&y=2', false],
      ['a', 'https://example.com/unquoted?a=b', false],
      ['a', 'https://example.com/after-gt-in-attr', false],
      ['a', 'https://example.com/spaces', false],
      ['a', 'https://例え.テスト/パス?q=ü&r=%20#frag', false],
      ['a', 'mailto:help@example.com', false],
      ['a', 'tel:+15551234', false],
      ['a', '#section', false],
      ['a', 'https://u.example.com/unsub/TOKEN123', false],
      ['a', 'https://example.com/keep', true],
      ['a', '/relative', false],
      ['a', 'javascript:alert(1)', false],
      ['v:roundrect', 'https://example.com/outlook-button', false],
      ['area', 'https://example.com/area', false],
      ['a', 'https://example.com/"quoted"', false],
    ]);
    expect(scanLinks(PAGE).bodyEnd).toBe(PAGE.lastIndexOf('</BODY>'));
  });

  it('decodes numeric and named references, and leaves unknown ones', () => {
    expect(decodeEntities('a&amp;b&#38;c&#x26;d&AMP;e&amp f&unknown;g&#0;')).toBe('a&b&c&d&e& f&unknown;g\ufffd');
  });

  it('survives broken HTML: unclosed tags, quotes and comments end the scan without throwing', () => {
    for (const bad of ['<a href="https://x.example/', '<a href=', '<!-- <a href="https://x.example/">', '<a', '<', '<<<<', '<a href="https://a.example/">ok</a><a href=\'https://b']) {
      expect(() => scanLinks(bad)).not.toThrow();
    }
    expect(scanLinks('<a href="https://a.example/">ok</a><a href=\'https://b').links.map((l) => l.href)).toEqual(['https://a.example/']);
  });
});

describe('the tracking step', () => {
  it('keeps every link landing where it did, and rewrites only trackable ones', () => {
    const { before, after } = track(PAGE);
    const orig = hrefs(before.html!);
    const now = hrefs(after.html!);
    expect(now.length).toBe(orig.length);
    expect(now.map(landing)).toEqual(orig.map(landing));
    const rewritten = now.filter((h) => h.startsWith(`${BASE}/c/`));
    expect(rewritten.length).toBe(8); // sale, single, unquoted, gt, spaces, unicode, area, entity quote
    for (const kept of ['mailto:help@example.com', 'tel:+15551234', '#section', 'https://u.example.com/unsub/TOKEN123', 'https://example.com/keep', '/relative']) {
      expect(now).toContain(kept);
    }
    // The Outlook button (in a conditional comment) is rewritten too.
    expect(after.html).not.toContain('https://example.com/outlook-button');
    expect(after.html).toContain('<!--[if mso]><v:roundrect href="https://t.example.com/t/c/');
    // Text outside links is untouched.
    expect(after.html!.replace(/"https:\/\/t\.example\.com\/t\/[co]\/[A-Za-z0-9_-]+"/g, '')).toContain("<script>var s = '<a href=\"https://script.example/\">';</script>");
  });

  it('adds one open pixel before </body> and updates sizeBytes', () => {
    const { before, after } = track(PAGE);
    const pixels = after.html!.match(/<img src="https:\/\/t\.example\.com\/t\/o\/([A-Za-z0-9_-]+)" width="1" height="1"/g)!;
    expect(pixels.length).toBe(1);
    expect(after.html!.indexOf('<img src="https://t.example.com/t/o/')).toBeLessThan(after.html!.indexOf('</BODY>'));
    const token = /\/o\/([A-Za-z0-9_-]+)/.exec(pixels[0]!)![1]!;
    expect(openToken(config.keys, 'open', token)).toMatchObject({ recipient: 'ann@example.org', id: before.id, messageId: before.messageId });
    expect(after.sizeBytes - before.sizeBytes).toBe(Buffer.byteLength(after.html!) - Buffer.byteLength(before.html!));
  });

  it('binds each link to its message, recipient and position, and keeps query strings and fragments', () => {
    const { before, after } = track('<a href="https://example.com/a?x=1&amp;y=%C3%A9#f">a</a><a href="https://example.com/b">b</a>');
    const tokens = [...after.html!.matchAll(/\/c\/([A-Za-z0-9_-]+)/g)].map((m) => openToken(config.keys, 'click', m[1]!)!);
    expect(tokens.map((t) => [t.url, t.link, t.recipient, t.id])).toEqual([
      ['https://example.com/a?x=1&y=%C3%A9#f', 0, 'ann@example.org', before.id],
      ['https://example.com/b', 1, 'ann@example.org', before.id],
    ]);
    // No </body>: the pixel goes at the end.
    expect(after.html!.endsWith('>')).toBe(true);
    expect(after.html!.lastIndexOf('/o/')).toBeGreaterThan(after.html!.lastIndexOf('/c/'));
  });

  it('stays linear on huge HTML (4 MB of links and of tag soup)', () => {
    const block = '<p>Text <a href="https://example.com/p?i=1&amp;j=2">link</a> and <b>bold</b></p>\n';
    // CPU time of this process rather than wall time: on a loaded machine a run can be
    // descheduled for longer than it computes, which made the ratio noise rather than growth.
    const time = (html: string): number => {
      const t = process.cpuUsage();
      scanLinks(html);
      const d = process.cpuUsage(t);
      return d.user + d.system;
    };
    const small = block.repeat(6_000); // ~0.5 MB
    const big = block.repeat(48_000); // ~4 MB: 8 times as much
    time(small);
    const ts = Math.min(...[0, 1, 2, 3, 4].map(() => time(small)));
    const tb = Math.min(...[0, 1, 2, 3, 4].map(() => time(big)));
    expect(tb / ts).toBeLessThan(24); // linear would be 8, quadratic 64 (margin for a loaded machine)
    // Pathological inputs: long runs of `<`, of unterminated attributes, of comment openers.
    for (const soup of ['<'.repeat(2_000_000), '<a x='.repeat(400_000), '<!-'.repeat(700_000), '<a href="'.repeat(250_000), '<a b c d e f '.repeat(200_000)]) {
      const t = performance.now();
      scanLinks(soup);
      expect(performance.now() - t).toBeLessThan(2_000);
    }
    const huge = `<html><body>${block.repeat(5_000)}</body></html>`;
    const { after } = track(huge);
    const links = hrefs(after.html!);
    expect(links.length).toBe(5_000);
    // maxLinks (500): the first 500 are tracked, the rest are left as they are.
    expect(links.slice(0, 500).every((h) => h.startsWith(`${BASE}/c/`))).toBe(true);
    expect(links.slice(500).every((h) => h === 'https://example.com/p?i=1&j=2')).toBe(true);
  });
});

describe('track send option', () => {
  const input = { from: 'news@example.com', to: 'ann@example.org', subject: 'Hi', html: '<a href="https://example.com/x">x</a>' };

  it('rewrites only messages sent with track: true', async () => {
    const mailer = createMailer({ transport: memoryTransport(), tracking });
    try {
      const plain = await mailer.send(input);
      expect(plain.message.html).toBe(input.html);
      const tracked = await mailer.send(input, { track: true });
      expect(tracked.message.html).toMatch(/^<a href="https:\/\/t\.example\.com\/t\/c\/[A-Za-z0-9_-]+">x<\/a><img src="https:\/\/t\.example\.com\/t\/o\//);
    } finally {
      await mailer.close();
    }
  });

  it('refuses track with several recipients, without a tracking option, or not a boolean', async () => {
    const mailer = createMailer({ transport: memoryTransport(), tracking });
    const bare = createMailer({ transport: memoryTransport() });
    try {
      await expect(mailer.send({ ...input, cc: 'bob@example.org' }, { track: true })).rejects.toMatchObject({ code: MailErrorCode.VALIDATION, message: expect.stringContaining('exactly one recipient') });
      await expect(bare.send(input, { track: true })).rejects.toMatchObject({ code: MailErrorCode.VALIDATION, message: expect.stringContaining('tracking') });
      await expect(mailer.send(input, { track: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: MailErrorCode.VALIDATION });
      expect((await bare.send(input, { track: false })).message.html).toBe(input.html);
    } finally {
      await mailer.close();
      await bare.close();
    }
  });

  it('validates the tracking option at createMailer', () => {
    for (const bad of [{ url: 'ftp://x.example/t', secrets: tracking.secrets }, { url: 'https://x.example/t?q=1', secrets: tracking.secrets }, { url: BASE, secrets: ['short'] }, { url: BASE, secrets: tracking.secrets, opens: 'yes' }, 'on']) {
      expect(() => createMailer({ transport: memoryTransport(), tracking: bad as never })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, message: expect.stringContaining('tracking') }));
    }
  });
});

/**
 * Tracking end to end through the mailer over real SMTP: DKIM signs the rewritten body (it
 * verifies at the receiver), the unsubscribe link is left alone, per-recipient consent in a
 * campaign, and opens never suppress anybody.
 */
import { generateKeyPairSync } from 'node:crypto';
import { dkimVerify } from 'mailauth';
import { afterEach, describe, expect, it } from 'vitest';
import { createDkimSigner } from '../../src/auth/dkim.js';
import { createSuppressionPolicy } from '../../src/feedback/policy.js';
import type { FeedbackEvent } from '../../src/feedback/event.js';
import { createMailer } from '../../src/mailer/index.js';
import type { Mailer, MailerOptions } from '../../src/mailer/index.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import type { SmtpSink } from '../../src/testing/smtp-sink.js';
import smtpTransport from '../../src/transports/smtp.js';
import { createTrackingHandler } from '../../src/tracking/index.js';

const SECRET = 'a-tracking-secret-of-32-bytes!!!';
const tracking = { url: 'https://t.example.com/t', secrets: [SECRET] };
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((fn) => fn()));
});

async function setup(options: Partial<MailerOptions> = {}): Promise<{ sink: SmtpSink; mailer: Mailer }> {
  const sink = await startSmtpSink({ disableStartTls: true, keepRaw: true });
  const mailer = createMailer({ transport: smtpTransport({ host: sink.host, port: sink.port }), tracking, ...options });
  cleanup.push(async () => {
    await mailer.close({ timeoutMs: 2000 });
    await sink.close();
  });
  return { sink, mailer };
}

/** The delivered HTML part, quoted-printable decoded (enough for ASCII HTML). */
function htmlPart(raw: Buffer): string {
  const text = raw.toString('latin1');
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(text)![1]!;
  const start = text.search(/Content-Type: text\/html/i);
  const body = text.slice(text.indexOf('\r\n\r\n', start) + 4);
  // Cut at the boundary itself: a quoted-printable line may start with `--` (tokens hold `-`).
  return body.slice(0, body.indexOf(`\r\n--${boundary}`)).replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

const html = '<html><body><h1>Sale</h1><p><a href="https://shop.example.com/sale?a=1&amp;b=2">Shop</a> <a href="mailto:help@example.com">help</a></p></body></html>';

describe('tracked mail over SMTP', () => {
  it('is DKIM-signed after the links were rewritten: the signature verifies at the receiver', async () => {
    const keys = [
      { domain: 'example.com', selector: 'rsa1', privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey },
      { domain: 'example.com', selector: 'ed1', privateKey: generateKeyPairSync('ed25519').privateKey },
    ];
    const zone = Object.fromEntries(createDkimSigner({ keys }).keys.map((k) => [`${k.selector}._domainkey.${k.domain}`, k.dnsRecord]));
    const resolver = async (name: string, type: string): Promise<string[][]> => {
      const record = zone[name.toLowerCase()];
      if (type !== 'TXT' || record === undefined) throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return [record.match(/.{1,255}/g) ?? []];
    };
    const { sink, mailer } = await setup({ dkim: { keys } });
    const receipt = await mailer.send({ from: 'news@example.com', to: 'ann@example.org', subject: 'Sale', html }, { track: true });
    await sink.waitFor(1, 5000);
    const raw = sink.messages[0]!.raw!;
    const text = raw.toString('latin1');
    // The delivered HTML is the rewritten one (links in the text alternative are not tracked).
    const body = htmlPart(raw);
    expect(body).toContain('https://t.example.com/t/c/');
    expect(body).toContain('https://t.example.com/t/o/');
    expect(body).not.toContain('shop.example.com');
    expect(receipt.message.html).toContain('href="mailto:help@example.com"');
    const { results } = await dkimVerify(raw, { resolver });
    expect(results.map((r) => r.status.result)).toEqual(['pass', 'pass']);
    // The same bytes with one tracking URL changed fail: the signature covers the links.
    // A run of token characters inside the HTML part of the raw message (a token is over 100 of them).
    const htmlAt = text.search(/Content-Type: text\/html/i);
    const run = /[A-Za-z0-9_-]{24}/g;
    run.lastIndex = htmlAt + 200;
    const m = run.exec(text)!;
    const forged = Buffer.from(text.slice(0, m.index) + (text[m.index] === 'A' ? 'B' : 'A') + text.slice(m.index + 1), 'latin1');
    const again = await dkimVerify(forged, { resolver });
    expect(again.results.map((r) => r.status.result)).not.toContain('pass');
  });

  it('leaves the unsubscribe link of a marketing message alone and tracks the others', async () => {
    const { sink, mailer } = await setup({
      unsubscribe: { url: 'https://u.example.com/unsub', secrets: ['an-unsubscribe-secret-0123456789'] },
      postalAddress: '1 Main Street, Springfield',
    });
    const receipt = await mailer.send({ from: 'news@example.com', to: 'ann@example.org', subject: 'News', html, category: 'marketing', list: 'news' }, { track: true });
    await sink.waitFor(1, 5000);
    const out = receipt.message.html!;
    const unsub = /href="(https:\/\/u\.example\.com\/unsub\/[^"]+)"/.exec(out);
    expect(unsub).not.toBeNull(); // the unsubscribe step's body link, untouched
    expect(out).not.toContain('shop.example.com');
    expect(out.match(/\/t\/c\//g)?.length).toBe(1);
  });

  it('tracks only the consenting recipients of a campaign (per-item send options)', async () => {
    const { sink, mailer } = await setup();
    const people = [
      { to: 'ann@example.org', consent: true },
      { to: 'bob@example.org', consent: false },
      { to: 'cy@example.org', consent: true },
    ];
    const result = await mailer.sendMany(people.map((p) => ({ message: { from: 'news@example.com', to: p.to, subject: 'Hi', html }, options: { track: p.consent } })));
    expect(result.queued).toBe(3);
    await sink.waitFor(3, 5000);
    const tracked = (to: string) => htmlPart(sink.messages.find((m) => m.envelope.to.includes(to))!.raw!).includes('https://t.example.com/t/c/');
    expect(people.map((p) => tracked(p.to))).toEqual([true, false, true]);
  });

  it('never suppresses on opens or clicks, human or machine (L-4)', async () => {
    const policy = createSuppressionPolicy();
    const base = { recipient: 'ann@example.org', provider: 'tracking', timestamp: 1, raw: {} } as const;
    for (const e of [
      { ...base, type: 'opened', machineOpen: true },
      { ...base, type: 'opened', machineOpen: false },
      { ...base, type: 'clicked', machineClick: true, url: 'https://x.example/' },
      { ...base, type: 'clicked', machineClick: false, url: 'https://x.example/' },
    ] as FeedbackEvent[]) {
      expect((await policy.evaluate(e, 1)).action).toBe('none');
    }
    // And through the mailer: a flood of opens leaves the suppression list empty.
    const { mailer } = await setup();
    const handler = createTrackingHandler({ mailer, scanWindowMs: 0 });
    const receipt = await mailer.send({ from: 'news@example.com', to: 'ann@example.org', subject: 'Hi', html }, { track: true });
    const pixel = /<img src="https:\/\/t\.example\.com(\/t\/o\/[^"]+)"/.exec(receipt.message.html!)![1]!;
    for (let i = 0; i < 20; i++) await handler(new Request(`https://t.example.com${pixel}`, { headers: { 'user-agent': 'Mozilla/5.0' } }));
    await handler.settled();
    expect(await mailer.suppression.find('ann@example.org', [], Date.now())).toBeUndefined();
  });
});

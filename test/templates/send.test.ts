import { afterEach, describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import { createMailer } from '../../src/mailer/index.js';
import type { Mailer } from '../../src/mailer/index.js';
import { compileTemplate } from '../../src/templates/index.js';
import type { Template } from '../../src/templates/index.js';
import { templateStep } from '../../src/templates/step.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import type { SmtpSink } from '../../src/testing/smtp-sink.js';
import memoryTransport from '../../src/transports/memory.js';
import smtpTransport from '../../src/transports/smtp.js';
import type { MessageInput } from '../../src/types.js';

const MJML = `<mjml>
  <mj-head><mj-preview>News for {{name}}</mj-preview></mj-head>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text><h2>Hello {{name}}</h2><p>Your balance: {{account.balance}}</p>{{{note}}}</mj-text>
        <mj-button href="{{url}}">Open your account</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

let template: Template;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

async function mailerWith(transport = memoryTransport()): Promise<{ mailer: Mailer; transport: typeof transport }> {
  template ??= await compileTemplate({ subject: 'Your statement, {{name}}', mjml: MJML });
  const mailer = createMailer({ transport });
  closers.push(() => mailer.close());
  return { mailer, transport };
}

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

describe('send with a template', () => {
  it('renders subject, html and text per message before validation', async () => {
    const { mailer, transport } = await mailerWith();
    const receipt = await mailer.send({ from: 'bank@example.com', to: 'ann@example.org', template, vars: { name: 'Ann', account: { balance: '12.50 EUR' }, note: '<em>Thanks!</em>', url: 'https://bank.example.com/a/1' } });
    expect(receipt.message.subject).toBe('Your statement, Ann');
    expect(receipt.message.html).toContain('<h2>Hello Ann</h2>');
    expect(receipt.message.html).toContain('<em>Thanks!</em>');
    expect(receipt.message.text).toContain('Your balance: 12.50 EUR');
    expect(receipt.message.text).toContain('Open your account [https://bank.example.com/a/1]');
    expect((receipt.message as unknown as Record<string, unknown>).template).toBeUndefined();
    expect((await receipt.done()).status).toBe('sent');
    expect(transport.sent[0]!.message.subject).toBe('Your statement, Ann');
  });

  it('counts the rendered body in sizeBytes and applies the size limit to it', async () => {
    const big = await compileTemplate({ subject: 'S', html: '<p>{{body}}</p>', text: '{{body}}' });
    const mailer = createMailer({ transport: memoryTransport(), messageLimits: { maxBytes: 10_000 } });
    closers.push(() => mailer.close());
    const small = await mailer.send({ from: 'a@example.com', to: 'b@example.org', template: big, vars: { body: 'x' } });
    const larger = await mailer.send({ from: 'a@example.com', to: 'b@example.org', template: big, vars: { body: 'x'.repeat(2000) } });
    expect(larger.message.sizeBytes - small.message.sizeBytes).toBe(2 * 1999);
    const err = await rejection(mailer.send({ from: 'a@example.com', to: 'b@example.org', template: big, vars: { body: 'x'.repeat(6000) } }));
    expect(err.code).toBe(MailErrorCode.TOO_LARGE);
  });

  it('rejects a missing variable with TEMPLATE and queues nothing', async () => {
    const { mailer, transport } = await mailerWith();
    const err = await rejection(mailer.send({ from: 'bank@example.com', to: 'ann@example.org', template, vars: { name: 'Ann' } }));
    expect(err.code).toBe(MailErrorCode.TEMPLATE);
    expect(err.message).toBe('Missing template variables: account.balance, note, url');
    await mailer.onIdle();
    expect(transport.sent).toHaveLength(0);
    expect(mailer.stats().totals.queued).toBe(0);
  });

  it('refuses subject, html or text next to a template, vars without one, and a bad template', async () => {
    const { mailer } = await mailerWith();
    const base = { from: 'bank@example.com', to: 'ann@example.org' };
    const vars = { name: 'Ann', account: { balance: '1' }, note: '', url: 'https://x.example/' };
    for (const extra of [{ subject: 'Other' }, { html: '<p>x</p>' }, { text: 'x' }]) {
      const err = await rejection(mailer.send({ ...base, template, vars, ...extra }));
      expect(err.code).toBe(MailErrorCode.VALIDATION);
      expect(err.message).toContain('both `template` and');
    }
    expect((await rejection(mailer.send({ ...base, subject: 'S', text: 'x', vars }))).message).toBe('The message has `vars` but no `template`');
    expect((await rejection(mailer.send({ ...base, template: 'welcome' as never }))).code).toBe(MailErrorCode.VALIDATION);
    expect((await rejection(mailer.send({ ...base, template, vars: [1] as never }))).code).toBe(MailErrorCode.VALIDATION);
  });

  it('catches header injection through a subject variable (INVALID_HEADER)', async () => {
    const { mailer } = await mailerWith();
    const err = await rejection(mailer.send({ from: 'bank@example.com', to: 'ann@example.org', template, vars: { name: 'Ann\r\nBcc: evil@example.net', account: { balance: '1' }, note: '', url: 'https://x.example/' } }));
    expect(err.code).toBe(MailErrorCode.INVALID_HEADER);
  });

  it('sendMany: one shared template, per-recipient vars; bad items are counted, the rest go out', async () => {
    const { mailer, transport } = await mailerWith();
    function* items(): Generator<MessageInput> {
      for (let i = 0; i < 200; i++) {
        const vars = i === 7 ? { name: `User ${i}` } : { name: `User ${i}`, account: { balance: `${i}.00` }, note: '', url: `https://bank.example.com/a/${i}` };
        yield { from: 'bank@example.com', to: `user${i}@d${i % 5}.example`, template, vars };
      }
    }
    const result = await mailer.sendMany(items());
    expect(result.queued).toBe(199);
    expect(result.invalid).toBe(1);
    expect(result.errors[0]).toMatchObject({ index: 7 });
    expect(result.errors[0]!.error.code).toBe(MailErrorCode.TEMPLATE);
    await mailer.onIdle();
    expect(transport.sent).toHaveLength(199);
    const m42 = transport.sent.find((s) => s.envelope.to[0] === 'user42@d2.example')!.message;
    expect(m42.subject).toBe('Your statement, User 42');
    expect(m42.text).toContain('Your balance: 42.00');
  });
});

describe('templateStep built-ins', () => {
  it('adds the mailer variables per message; they win over the caller vars of the same name', async () => {
    const t = await compileTemplate({ subject: 'S', html: '<a href="{{unsubscribeUrl}}">Unsubscribe</a> {{name}}', text: '{{unsubscribeUrl}} {{postalAddress}}' });
    const seen: string[] = [];
    const step = templateStep({
      builtins: (input) => {
        seen.push(String(input.to));
        return { unsubscribeUrl: `https://u.example.com/u/${String(input.to).length}`, postalAddress: '1 Main St' };
      },
    });
    const out = step.input!({ from: 'a@example.com', to: 'ann@example.org', template: t, vars: { name: 'Ann', unsubscribeUrl: 'https://evil.example/' } }, { options: {}, now: 0 });
    expect(out.html).toBe('<a href="https://u.example.com/u/15">Unsubscribe</a> Ann');
    expect(out.text).toBe('https://u.example.com/u/15 1 Main St');
    expect(seen).toEqual(['ann@example.org']);
    // Messages without a template pass through as the same object, and built-ins are not computed.
    const plain = { from: 'a@example.com', to: 'b@example.org', text: 'x' };
    expect(step.input!(plain, { options: {}, now: 0 })).toBe(plain);
    expect(seen).toHaveLength(1);
  });

  it('through the mailer: a marketing template gets this recipient\'s unsubscribeUrl and the postal address', async () => {
    const t = await compileTemplate({ subject: 'News for {{name}}', html: '<p>Hi {{name}}</p><p><a href="{{unsubscribeUrl}}">Unsubscribe</a> {{postalAddress}}</p>' });
    const mailer = createMailer({ transport: memoryTransport(), unsubscribe: { url: 'https://u.example.com/unsubscribe', secrets: ['k'.repeat(32)] }, postalAddress: '1 Main St, Springfield' });
    closers.push(() => mailer.close());
    const r = await mailer.send({ from: 'news@example.com', to: 'ann@example.org', category: 'marketing', list: 'weekly', template: t, vars: { name: 'Ann', unsubscribeUrl: 'https://evil.example/' } });
    const link = /href="(https:\/\/u\.example\.com\/unsubscribe\/[^"]+)"/.exec(r.message.html!)?.[1];
    expect(link).toBeDefined();
    expect(r.message.html).toContain('1 Main St, Springfield');
    expect(r.message.html).not.toContain('evil.example');
    expect(r.message.text).toContain(`Unsubscribe [${link!}] 1 Main St, Springfield`);
    expect(r.message.headers.find(([n]) => n === 'List-Unsubscribe')?.[1]).toBe(`<${link!}>`);
  });

  it('wraps a custom template that throws a plain error into TEMPLATE', () => {
    const step = templateStep();
    const broken = { render: () => { throw new Error('boom'); } };
    expect(() => step.input!({ from: 'a@example.com', to: 'b@example.org', template: broken }, { options: {}, now: 0 })).toThrow(expect.objectContaining({ code: MailErrorCode.TEMPLATE }));
  });
});

describe('a templated send through a real SMTP server', () => {
  let sink: SmtpSink | undefined;
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });

  it('delivers the personalised subject, HTML and text part', async () => {
    sink = await startSmtpSink({ parse: true });
    const { mailer } = await mailerWith(smtpTransport({ host: sink.host, port: sink.port, ignoreTLS: true }) as never);
    const people = [
      { to: 'ann@example.org', name: 'Ann', balance: '12.50 €' },
      { to: 'bob@example.net', name: 'Bob & <Co>', balance: '-3.00 €' },
    ];
    for (const p of people) {
      const receipt = await mailer.send({ from: 'Bank <bank@example.com>', to: p.to, template, vars: { name: p.name, account: { balance: p.balance }, note: '<p>See you</p>', url: `https://bank.example.com/a/${p.name.length}` } });
      expect((await receipt.done()).status).toBe('sent');
    }
    await sink.waitFor(2);
    const byRcpt = new Map(sink.messages.map((m) => [m.envelope.to[0], m.parsed!]));
    const ann = byRcpt.get('ann@example.org')!;
    expect(ann.subject).toBe('Your statement, Ann');
    expect(ann.html).toContain('<h2>Hello Ann</h2>');
    expect(ann.html).toContain('Your balance: 12.50 €');
    expect(ann.text).toContain('HELLO Ann');
    expect(ann.text).toContain('Your balance: 12.50 €');
    expect(ann.text).toContain('See you');
    expect(ann.text).toContain('Open your account [https://bank.example.com/a/3]');
    const bob = byRcpt.get('bob@example.net')!;
    expect(bob.subject).toBe('Your statement, Bob & <Co>');
    expect(bob.html).toContain('<h2>Hello Bob &amp; &lt;Co&gt;</h2>');
    expect(bob.text).toContain('HELLO Bob & <Co>');
    expect(bob.text).toContain('https://bank.example.com/a/10');
  });
});

/** A compiled MJML template gets the unsubscribe link and the postal address as `unsubscribeUrl` and `postalAddress`. */
import { describe, expect, it } from 'vitest';
import { createMailer } from '../../src/mailer/index.js';
import { compileTemplate } from '../../src/templates/index.js';
import memoryTransport from '../../src/transports/memory.js';

describe('templates and unsubscribe', () => {
  it('renders the recipient link and the address into the HTML and text of a marketing template', async () => {
    const template = await compileTemplate({
      subject: 'News for {{name}}',
      mjml: `<mjml><mj-body><mj-section><mj-column>
        <mj-text>Hello {{name}}</mj-text>
        <mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a> - {{postalAddress}}</mj-text>
      </mj-column></mj-section></mj-body></mjml>`,
    });
    const transport = memoryTransport();
    const mailer = createMailer({ transport, unsubscribe: { url: 'https://u.shop.example/unsubscribe', secrets: ['template-test-secret-0001'] }, postalAddress: 'Shop & Co, 1 Main St' });
    try {
      const r = await mailer.send({ from: 'news@shop.example', to: 'ann@example.org', template, vars: { name: 'Ann' }, category: 'marketing', list: 'newsletter' });
      const url = /<(https:[^>]+)>/.exec(r.message.headers.find(([n]) => n === 'List-Unsubscribe')?.[1] ?? '')?.[1] as string;
      expect(url).toMatch(/^https:\/\/u\.shop\.example\/unsubscribe\/[A-Za-z0-9_-]+$/);
      expect(r.message.html).toContain(`href="${url}"`);
      expect(r.message.html).toContain('Shop &amp; Co, 1 Main St');
      expect(r.message.text).toContain(url);
      expect(r.message.text).toContain('Shop & Co, 1 Main St');
      expect(`${r.message.html}${r.message.text}`).not.toContain('%%');
      // A transactional message of the same template gets no link, and the placeholders are not left behind.
      const t = await mailer.send({ from: 'news@shop.example', to: 'bob@example.org', template, vars: { name: 'Bob', unsubscribeUrl: 'https://shop.example/prefs', postalAddress: 'x' } });
      expect(t.message.headers.some(([n]) => n === 'List-Unsubscribe')).toBe(false);
      expect(t.message.html).toContain('https://shop.example/prefs');
    } finally {
      await mailer.close();
    }
  });
});

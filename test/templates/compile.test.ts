import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import { TemplateError, compileTemplate, escapeHtml } from '../../src/templates/index.js';
import type { Mjml2Html } from '../../src/templates/index.js';
import { loadMjml } from '../../src/templates/mjml.js';

const body = (inner: string, attrs = ''): string => `<mjml>
  <mj-head><mj-title>Newsletter</mj-title></mj-head>
  <mj-body>
    <mj-section${attrs}>
      <mj-column>
${inner}
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

async function caught(p: Promise<unknown> | (() => unknown)): Promise<TemplateError> {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (err) {
    return err as TemplateError;
  }
  throw new Error('expected an error');
}

describe('compileTemplate: rendering', () => {
  it('fills variables in the subject, the HTML and the text, each once compiled', async () => {
    const t = await compileTemplate({
      subject: 'Hi {{ name }}, {{count}} news',
      mjml: body('<mj-text>Hello {{name}}, plan {{plan.label}}.</mj-text><mj-button href="{{url}}">Open</mj-button>'),
      text: 'Hello {{name}} ({{plan.label}}): {{url}}',
    });
    expect(t.variables).toEqual(['name', 'count', 'plan.label', 'url']);
    const r = t.render({ name: 'Ann', count: 3, plan: { label: 'Pro' }, url: 'https://example.com/a?x=1&y=2' });
    expect(r.subject).toBe('Hi Ann, 3 news');
    expect(r.text).toBe('Hello Ann (Pro): https://example.com/a?x=1&y=2');
    expect(r.html).toContain('Hello Ann, plan Pro.');
    // In an attribute the value is escaped too: & becomes &amp; (what a browser reads back as &).
    expect(r.html).toContain('href="https://example.com/a?x=1&amp;y=2"');
    expect(r.html).not.toContain('{{');
    const again = t.render({ name: 'Bob', count: 1n, plan: { label: 'Free' }, url: 'https://example.com/b' });
    expect(again.subject).toBe('Hi Bob, 1 news');
    expect(again.html).toContain('Hello Bob, plan Free.');
  });

  it('escapes {{name}} in the HTML and keeps it plain in the subject and text', async () => {
    const t = await compileTemplate({ subject: 'For {{who}}', mjml: body('<mj-text>Dear {{who}}</mj-text>'), text: 'Dear {{who}}' });
    const r = t.render({ who: `<script>alert("x")</script> & 'co'` });
    expect(r.html).toContain('Dear &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;');
    expect(r.html).not.toContain('<script>alert');
    expect(r.subject).toBe(`For <script>alert("x")</script> & 'co'`);
    expect(r.text).toBe(`Dear <script>alert("x")</script> & 'co'`);
  });

  it('inserts {{{name}}} as raw HTML, and as its text in a generated text part', async () => {
    const t = await compileTemplate({ subject: 'S', mjml: body('<mj-text>Offer: {{{promo}}}</mj-text>') });
    const r = t.render({ promo: '<b>50% off</b> at <a href="https://shop.example.com/">the shop</a>' });
    expect(r.html).toContain('Offer: <b>50% off</b> at <a href="https://shop.example.com/">the shop</a>');
    expect(r.text).toContain('Offer: 50% off at the shop [https://shop.example.com/]');
    expect(r.text).not.toContain('<b>');
  });

  it('generates the text part from the compiled HTML with html-to-text, variables kept as slots', async () => {
    const t = await compileTemplate({
      subject: 'S',
      mjml: body('<mj-text><h1>Welcome {{name}}</h1><p>Your code: {{code}}</p></mj-text><mj-button href="{{url}}">Confirm</mj-button><mj-image src="https://example.com/logo.png" alt="Logo" />'),
    });
    expect(t.text).toContain('{{name}}');
    const r = t.render({ name: 'Zoë & Co', code: 'AB12', url: 'https://example.com/c/1' });
    // Headings are upper-cased by html-to-text, the value stays as given.
    expect(r.text).toContain('WELCOME Zoë & Co');
    expect(r.text).toContain('Your code: AB12');
    expect(r.text).toContain('Confirm [https://example.com/c/1]');
    expect(r.text).not.toMatch(/logo\.png|<|\u0001/);
  });

  it('reads dotted paths and list indexes from own properties only', async () => {
    const t = await compileTemplate({ subject: '{{user.first}} {{items.0.name}}', html: '<p>x</p>', missing: 'empty' });
    expect(t.render({ user: { first: 'Ann' }, items: [{ name: 'Pen' }] }).subject).toBe('Ann Pen');
    // Inherited properties are not read: a class instance's getter or Object.prototype.
    class User {
      get first(): string {
        return 'from the prototype';
      }
    }
    expect(t.render({ user: new User(), items: [] }).subject).toBe(' ');
    expect(t.render({ user: 'Ann', items: 'x' }).subject).toBe(' ');
  });

  it('refuses variable names that walk into Object.prototype', async () => {
    for (const subject of ['{{__proto__}}', '{{user.constructor}}', '{{a.prototype.b}}']) {
      const err = await caught(compileTemplate({ subject, html: '<p>x</p>' }));
      expect(err.code).toBe(MailErrorCode.TEMPLATE);
      expect(err.part).toBe('subject');
    }
  });

  it("throws one TEMPLATE error listing every missing variable, or renders '' with missing: 'empty'", async () => {
    const src = { subject: '{{a}} {{b.c}}', html: '<p>{{d}} {{a}}</p>', text: '{{e}}' };
    const strict = await compileTemplate(src);
    const err = await caught(() => strict.render({ a: 'x', b: { c: null } }));
    expect(err).toBeInstanceOf(TemplateError);
    expect(isMailError(err)).toBe(true);
    expect(err.code).toBe(MailErrorCode.TEMPLATE);
    expect(err.missing).toEqual(['b.c', 'd', 'e']);
    expect(err.message).toBe('Missing template variables: b.c, d, e');
    expect(err.toJSON()).toMatchObject({ code: 'MAILPUSH_ERR_TEMPLATE', missing: ['b.c', 'd', 'e'] });
    const lenient = await compileTemplate({ ...src, missing: 'empty' });
    expect(lenient.render({ a: 'x' })).toEqual({ subject: 'x ', html: '<p> x</p>', text: '' });
    // An empty string and zero are values, not missing.
    expect(strict.render({ a: '', b: { c: 0 }, d: false, e: '' }).subject).toBe(' 0');
  });

  it('refuses objects and functions as values, naming the variable', async () => {
    const t = await compileTemplate({ subject: '{{user}}', html: '<p>x</p>' });
    const err = await caught(() => t.render({ user: { first: 'Ann' } }));
    expect(err.code).toBe(MailErrorCode.TEMPLATE);
    expect(err.message).toContain('`user`');
    expect((await caught(() => t.render({ user: () => 'x' }))).code).toBe(MailErrorCode.TEMPLATE);
    expect((await caught(() => t.render('nope' as never))).code).toBe(MailErrorCode.VALIDATION);
  });

  it('renders far faster than mjml2html compiles the same template (a ratio, so machine load cancels out)', async () => {
    const mjml = body('<mj-text>Hello {{name}} {{{promo}}}</mj-text>'.repeat(20));
    const t = await compileTemplate({ subject: 'Hi {{name}}', mjml });
    const mjml2html = await loadMjml();
    const best = async (runs: number, fn: () => unknown): Promise<number> => {
      let min = Infinity;
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        for (let i = 0; i < runs; i++) await fn();
        min = Math.min(min, (performance.now() - t0) / runs);
      }
      return min;
    };
    const compileMs = await best(3, () => mjml2html(mjml.replaceAll('{{{promo}}}', '<b>x</b>'), { validationLevel: 'strict' }));
    const renderMs = await best(300, () => t.render({ name: 'user', promo: '<b>x</b>' }));
    expect(renderMs * 20).toBeLessThan(compileMs);
  });
});

describe('compileTemplate: errors', () => {
  it('reports an unclosed {{ with its line in the MJML, before MJML runs', async () => {
    let calls = 0;
    const lib: Mjml2Html = () => {
      calls++;
      return { html: '<p></p>', errors: [] };
    };
    const err = await caught(compileTemplate({ subject: 'S', mjml: body('<mj-text>Hello {{name</mj-text>'), lib }));
    expect(err.code).toBe(MailErrorCode.TEMPLATE);
    expect(err.part).toBe('mjml');
    expect(err.line).toBe(6);
    expect(err.message).toMatch(/Unclosed `\{\{` in the mjml at line 6/);
    expect(calls).toBe(0);
    const raw = await caught(compileTemplate({ subject: 'S', mjml: body('<mj-text>{{{html}}</mj-text>'), lib }));
    expect(raw.message).toMatch(/Unclosed `\{\{\{`/);
  });

  it('reports bad placeholders in the subject and text with their line', async () => {
    const s = await caught(compileTemplate({ subject: 'Hi {{}}', html: '<p>x</p>' }));
    expect([s.code, s.part, s.line]).toEqual([MailErrorCode.TEMPLATE, 'subject', 1]);
    const t = await caught(compileTemplate({ subject: 'S', html: '<p>x</p>', text: 'line 1\nline 2 {{first name}}' }));
    expect([t.part, t.line]).toEqual(['text', 2]);
    expect(t.message).toContain('invalid variable name "first name"');
  });

  it('turns MJML validation errors (strict level) into TEMPLATE errors with the MJML line', async () => {
    const err = await caught(compileTemplate({ subject: 'S', mjml: body('<mj-text>ok</mj-text>\n<mj-bogus>no</mj-bogus>') }));
    expect(err.code).toBe(MailErrorCode.TEMPLATE);
    expect(err.part).toBe('mjml');
    expect(err.line).toBe(7);
    expect(err.tagName).toBe('mj-bogus');
    expect(err.message).toMatch(/^MJML line 7 \(mj-bogus\): Element mj-bogus doesn't exist/);
    expect(err.mjmlErrors?.length).toBe(1);
    const misplaced = await caught(compileTemplate({ subject: 'S', mjml: '<mjml><mj-body>\n\n<mj-text>x</mj-text></mj-body></mjml>' }));
    expect(misplaced.line).toBe(3);
  });

  it('refuses a variable in a typed MJML attribute, naming the attribute, tag and line', async () => {
    const err = await caught(compileTemplate({ subject: 'S', mjml: body('<mj-text>x</mj-text>', ' background-color="{{brand}}"') }));
    expect(err.code).toBe(MailErrorCode.TEMPLATE);
    expect([err.line, err.tagName, err.attribute]).toEqual([4, 'mj-section', 'background-color']);
    expect(err.message).toContain('`background-color` is a typed MJML attribute (Color) and cannot hold a variable');
    const width = await caught(compileTemplate({ subject: 'S', mjml: body('<mj-image src="{{img}}" width="{{w}}" />') }));
    expect([width.attribute, width.tagName, width.line]).toEqual(['width', 'mj-image', 6]);
  });

  it('accepts variables in string attributes (href, src, alt, css-class)', async () => {
    const t = await compileTemplate({ subject: 'S', mjml: body('<mj-image src="{{img}}" alt="{{alt}}" css-class="{{cls}}" href="{{link}}" />') });
    const r = t.render({ img: 'https://cdn.example.com/a.png', alt: 'A "quote"', cls: 'hero', link: 'https://example.com/' });
    expect(r.html).toContain('src="https://cdn.example.com/a.png"');
    expect(r.html).toContain('alt="A &quot;quote&quot;"');
  });

  it('rejects bad arguments with CONFIG', async () => {
    for (const bad of [null, {}, { subject: 'S' }, { subject: 'S', mjml: '', html: undefined }, { subject: 1, html: '<p>x</p>' }, { subject: 'S', html: '<p/>', mjml: '<mjml/>' }, { subject: 'S', html: '<p/>', missing: 'skip' }]) {
      const err = await caught(compileTemplate(bad as never));
      expect(err.code).toBe(MailErrorCode.CONFIG);
    }
  });
});

describe('compileTemplate: MJML loading and cache', () => {
  it('compiles each MJML source once per mjml2html and reuses it for other subjects and texts', async () => {
    let calls = 0;
    const lib: Mjml2Html = async (src) => {
      calls++;
      const real = await loadMjml();
      return real(src, { validationLevel: 'strict' });
    };
    const mjml = body('<mj-text>Cached {{name}}</mj-text>');
    const [a, b] = await Promise.all([compileTemplate({ subject: 'A {{name}}', mjml, lib }), compileTemplate({ subject: 'B {{name}}', mjml, lib })]);
    const c = await compileTemplate({ subject: 'C', mjml, lib, text: 'plain {{name}}' });
    expect(calls).toBe(1);
    expect(a.render({ name: 'x' }).subject).toBe('A x');
    expect(b.render({ name: 'y' }).subject).toBe('B y');
    expect(c.render({ name: 'z' }).text).toBe('plain z');
    await compileTemplate({ subject: 'D', mjml: `${mjml}\n`, lib });
    expect(calls).toBe(2);
  });

  it('does not cache a failed compile', async () => {
    let calls = 0;
    const lib: Mjml2Html = () => {
      calls++;
      throw Object.assign(new Error('ValidationError'), { errors: [{ line: 2, tagName: 'mj-x', message: 'Element mj-x does not exist' }] });
    };
    const mjml = '<mjml><mj-body><mj-x/></mj-body></mjml>';
    expect((await caught(compileTemplate({ subject: 'S', mjml, lib }))).line).toBe(2);
    expect((await caught(compileTemplate({ subject: 'S', mjml, lib }))).line).toBe(2);
    expect(calls).toBe(2);
  });

  it('resolves <mj-include> only with includePath (MJML ignores includes otherwise)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailpush-templates-'));
    try {
      writeFileSync(join(dir, 'footer.mjml'), '<mj-section><mj-column><mj-text>Footer for {{name}}</mj-text></mj-column></mj-section>\n');
      const mjml = '<mjml><mj-body>\n<mj-include path="./footer.mjml" />\n</mj-body></mjml>';
      const withIncludes = await compileTemplate({ subject: 'S', mjml, includePath: dir });
      expect(withIncludes.variables).toEqual(['name']);
      expect(withIncludes.render({ name: 'Ann' }).text).toBe('Footer for Ann');
      const without = await compileTemplate({ subject: 'S', mjml });
      expect(without.variables).toEqual([]);
      expect(without.html).not.toContain('Footer');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a variable that MJML drops (text straight inside mj-column)', async () => {
    const err = await caught(compileTemplate({ subject: 'S', mjml: body('<mj-text>kept {{a}}</mj-text>\n{{{dropped}}}') }));
    expect(err.code).toBe(MailErrorCode.TEMPLATE);
    expect(err.line).toBe(7);
    expect(err.message).toContain('the variable `dropped` does not reach the HTML');
  });

  it('names the install command when mjml is not installed', async () => {
    const err = await caught(
      loadMjml(() => Promise.reject(Object.assign(new Error("Cannot find package 'mjml'"), { code: 'ERR_MODULE_NOT_FOUND' }))),
    );
    expect(err.code).toBe(MailErrorCode.MISSING_DEPENDENCY);
    expect(err.message).toContain('npm install mjml');
    // The real one loads.
    expect(typeof (await loadMjml())).toBe('function');
  });

  it('escapeHtml escapes the five HTML-special characters and nothing else', () => {
    expect(escapeHtml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&#39;');
    const plain = 'nothing to do é';
    expect(escapeHtml(plain)).toBe(plain);
  });
});

/**
 * Templates:
 * 1. Personalised renders per second: a compiled template's `render(vars)` (subject, HTML and
 *    text) against `mjml2html` per message (the MJML with the recipient's values substituted,
 *    then compiled, which is what sending MJML without compiling it once costs). Rounds
 *    interleave the two. Goal: >= 50x.
 * 2. Memory of a templated campaign through `sendMany`: 1,000,000 recipients (5,000 with
 *    --quick) with one shared template and per-recipient vars, into the memory transport
 *    (`record: false`), in a child process with --expose-gc. Peak RSS and heapUsed (sampled
 *    every 50 ms) above the process's baseline after start-up, against the same campaign with
 *    plain `text` messages of the same recipients (the mailer's own cost), so the ratio shows
 *    what templating adds.
 *
 * Run: npx tsx bench/templates.ts [--quick] [--rounds N]
 */

import { spawn } from 'node:child_process';
import { createMailer } from '../src/mailer/index.js';
import { compileTemplate } from '../src/templates/index.js';
import type { Template } from '../src/templates/index.js';
import { loadMjml } from '../src/templates/mjml.js';
import memoryTransport from '../src/transports/memory.js';
import type { MessageInput } from '../src/types.js';
import { ROOT, fmt, header, median, nowMs, parseFlags, result, summary } from './common.js';

const MJML = `<mjml>
  <mj-head><mj-title>Weekly news</mj-title><mj-preview>This week for {{name}}</mj-preview></mj-head>
  <mj-body background-color="#f4f4f4">
    <mj-section background-color="#ffffff" padding="20px">
      <mj-column>
        <mj-image src="https://cdn.example.com/logo.png" alt="Example" width="120px" />
        <mj-text font-size="20px" font-weight="bold">Hello {{name}},</mj-text>
        <mj-text>Here is what happened this week in {{city}}. Your plan: {{plan.label}}, renewed on {{plan.renewal}}.</mj-text>
        <mj-button href="{{url}}" background-color="#1a73e8">Read the news</mj-button>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff">
      <mj-column><mj-text>Article one: a longer paragraph of static text that every recipient gets, as newsletters have.</mj-text></mj-column>
      <mj-column><mj-text>Article two: more static text, links and a footer, typical of a weekly newsletter.</mj-text></mj-column>
    </mj-section>
    <mj-section>
      <mj-column>
        <mj-text font-size="11px" color="#777777">You get this because you subscribed. <a href="{{unsubscribeUrl}}">Unsubscribe</a>. Example Inc, 1 Main St, Springfield.</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;
const SUBJECT = 'Your week in {{city}}, {{name}}';

function vars(i: number): Record<string, unknown> {
  return {
    name: `Reader ${i}`,
    city: i % 2 === 0 ? 'Lyon' : 'Zürich',
    plan: { label: i % 3 === 0 ? 'Pro' : 'Free', renewal: '2027-01-01' },
    url: `https://news.example.com/w/49?r=${i}`,
    unsubscribeUrl: `https://u.example.com/u/${i.toString(36)}`,
  };
}

function substitute(source: string, v: Record<string, unknown>): string {
  return source.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_m, name: string) => {
    let cur: unknown = v;
    for (const seg of name.split('.')) cur = (cur as Record<string, unknown>)[seg];
    return String(cur).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  });
}

async function renders(flags: { quick: boolean; rounds: number }): Promise<void> {
  const template = await compileTemplate({ mjml: MJML, subject: SUBJECT });
  const mjml2html = await loadMjml();
  const nTemplate = flags.quick ? 1_000 : 50_000;
  const nMjml = flags.quick ? 10 : 200;
  // Warm both paths.
  for (let i = 0; i < 500; i++) template.render(vars(i));
  for (let i = 0; i < 5; i++) await mjml2html(substitute(MJML, vars(i)), { validationLevel: 'strict' });
  const perSecTemplate: number[] = [];
  const perSecMjml: number[] = [];
  let sink = 0;
  for (let r = 0; r < flags.rounds; r++) {
    const runTemplate = (): void => {
      const t0 = nowMs();
      for (let i = 0; i < nTemplate; i++) sink += template.render(vars(i)).html.length;
      perSecTemplate.push(nTemplate / ((nowMs() - t0) / 1000));
    };
    const runMjml = async (): Promise<void> => {
      const t0 = nowMs();
      for (let i = 0; i < nMjml; i++) {
        const v = vars(i);
        const out = await mjml2html(substitute(MJML, v), { validationLevel: 'strict' });
        sink += out.html.length + substitute(SUBJECT, v).length;
      }
      perSecMjml.push(nMjml / ((nowMs() - t0) / 1000));
    };
    if (r % 2 === 0) {
      runTemplate();
      await runMjml();
    } else {
      await runMjml();
      runTemplate();
    }
    console.log(`   round ${r + 1}: template ${fmt(perSecTemplate[r]!)} renders/s, mjml2html ${fmt(perSecMjml[r]!)} compiles/s`);
  }
  if (sink === 0) throw new Error('nothing rendered');
  const ratios = perSecTemplate.map((t, i) => t / perSecMjml[i]!);
  result('personalised renders per second (subject + HTML + text)', `${summary(perSecMjml, 0)} mjml2html/s`, `${summary(perSecTemplate, 0)} renders/s`, `${summary(ratios, 1)}x`, '>= 50x', median(ratios) >= 50);
  console.log(`      HTML per message: ${fmt(template.render(vars(1)).html.length)} characters; text part: ${fmt(template.render(vars(1)).text.length)}`);
}

interface MemorySample {
  readonly mode: 'template' | 'text';
  readonly count: number;
  readonly peakRssBytes: number;
  readonly peakHeapBytes: number;
  readonly seconds: number;
  readonly sent: number;
  /** heapUsed above the baseline after the campaign and two forced collections: what stays. */
  readonly retainedHeapBytes: number;
}

async function child(mode: 'template' | 'text', count: number): Promise<void> {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with --expose-gc');
  const template: Template = await compileTemplate({ mjml: MJML, subject: SUBJECT });
  const transport = memoryTransport({ record: false });
  const mailer = createMailer({ transport });
  await mailer.ready();
  // Warm the path, then take the baseline.
  await mailer.sendMany([{ from: 'news@example.com', to: 'warm@example.org', template, vars: vars(0) }]);
  await mailer.onIdle();
  g();
  g();
  const base = process.memoryUsage();
  let peakRss = 0;
  let peakHeap = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss - base.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed - base.heapUsed);
  };
  const timer = setInterval(sample, 50);
  function* source(): Generator<MessageInput> {
    for (let i = 0; i < count; i++) {
      const to = `reader${i}@d${i % 1000}.example`;
      if (mode === 'template') yield { from: 'News <news@example.com>', to, category: 'transactional', template, vars: vars(i) };
      else yield { from: 'News <news@example.com>', to, subject: `Your week, Reader ${i}`, text: `Hello Reader ${i}, here is your week.` };
    }
  }
  const t0 = nowMs();
  const res = await mailer.sendMany(source());
  await mailer.onIdle();
  const seconds = (nowMs() - t0) / 1000;
  sample();
  clearInterval(timer);
  g();
  g();
  const retainedHeapBytes = process.memoryUsage().heapUsed - base.heapUsed;
  if (res.queued !== count) throw new Error(`expected ${count} queued, got ${res.queued} (${res.errors[0]?.error.message ?? ''})`);
  await mailer.close();
  const out: MemorySample = { mode, count, peakRssBytes: peakRss, peakHeapBytes: peakHeap, seconds, sent: transport.count - 1, retainedHeapBytes };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

function runChild(mode: 'template' | 'text', count: number): Promise<MemorySample> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/templates.ts', '--child', mode, String(count)], { cwd: ROOT });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as MemorySample) : reject(new Error(`templates child ${mode} failed (${String(code)}): ${err}`))));
  });
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  await child(process.argv[childAt + 1] as 'template' | 'text', Number(process.argv[childAt + 2]));
} else {
  const flags = parseFlags(3);
  header('templates: render speed', flags, 'a ~10 KB MJML newsletter, 6 variables per recipient (subject, HTML and text rendered)');
  await renders(flags);
  const count = flags.quick ? 5_000 : 1_000_000;
  const memRounds = flags.quick ? 1 : Math.min(flags.rounds, 2);
  header('templates: memory of a templated campaign', { quick: flags.quick, rounds: memRounds }, `${fmt(count)} recipients through sendMany (default maxQueued 10,000), memory transport with record: false, one child process each`);
  const t: MemorySample[] = [];
  const p: MemorySample[] = [];
  for (let r = 0; r < memRounds; r++) {
    if (r % 2 === 0) {
      t.push(await runChild('template', count));
      p.push(await runChild('text', count));
    } else {
      p.push(await runChild('text', count));
      t.push(await runChild('template', count));
    }
    console.log(`   round ${r + 1}: templated peak RSS +${fmt(t[r]!.peakRssBytes / 1048576, 1)} MiB, heap +${fmt(t[r]!.peakHeapBytes / 1048576, 1)} MiB (retained ${fmt(t[r]!.retainedHeapBytes / 1048576, 1)}) in ${fmt(t[r]!.seconds, 1)} s; plain text peak RSS +${fmt(p[r]!.peakRssBytes / 1048576, 1)} MiB, heap +${fmt(p[r]!.peakHeapBytes / 1048576, 1)} MiB (retained ${fmt(p[r]!.retainedHeapBytes / 1048576, 1)}) in ${fmt(p[r]!.seconds, 1)} s`);
  }
  const mib = (xs: MemorySample[], k: 'peakRssBytes' | 'peakHeapBytes' | 'retainedHeapBytes'): number[] => xs.map((s) => s[k] / 1048576);
  result('peak RSS above baseline', summary(mib(p, 'peakRssBytes'), 1, ' MiB (plain text)'), summary(mib(t, 'peakRssBytes'), 1, ' MiB (templated)'), summary(t.map((s, i) => s.peakRssBytes / p[i]!.peakRssBytes), 2), 'bounded (informational)', undefined);
  result('peak heapUsed above baseline', summary(mib(p, 'peakHeapBytes'), 1, ' MiB (plain text)'), summary(mib(t, 'peakHeapBytes'), 1, ' MiB (templated)'), summary(t.map((s, i) => s.peakHeapBytes / p[i]!.peakHeapBytes), 2), 'bounded (informational)', undefined);
  result('heapUsed retained after the campaign (after gc)', summary(mib(p, 'retainedHeapBytes'), 1, ' MiB (plain text)'), summary(mib(t, 'retainedHeapBytes'), 1, ' MiB (templated)'), summary(t.map((s, i) => s.retainedHeapBytes / p[i]!.retainedHeapBytes), 2), 'none (informational)', undefined);
  result('campaign throughput', summary(p.map((s) => s.count / s.seconds), 0, ' msg/s (plain text)'), summary(t.map((s) => s.count / s.seconds), 0, ' msg/s (templated)'), summary(t.map((s, i) => (s.count / s.seconds) / (p[i]!.count / p[i]!.seconds)), 2), 'none (informational)', undefined);
}

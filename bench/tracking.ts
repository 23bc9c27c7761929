/**
 * Tracking costs.
 *
 * 1. Rewriting cost per message against the cost of sending it: a 20 KB newsletter with 25
 *    links, sent through the mailer (accept, compose, DKIM RSA-2048, SMTP to a sink in another
 *    process) with and without `track: true`, rounds interleaved. Reported: the client
 *    process's CPU time per message (the cost that scales) and the wall time per message, and
 *    the tracking step alone (`trackMessage`, links scanned, 25 tokens sealed, pixel added).
 *    Target: tracking adds under 10% to the cost of sending.
 * 2. Handler requests per second: `createTrackingHandler(...).node` on node:http answering click
 *    redirects (token verified, 302, the `clicked` event processed in the background through the
 *    feedback processor and the campaign counters) against a bare node:http handler answering
 *    the same 302 with a fixed Location. The load generator is a second Node process (keep-alive
 *    agents, CONCURRENCY requests in flight). Target: >= 0.7x the bare handler.
 *
 * Run: npx tsx bench/tracking.ts [--quick] [--rounds N]
 */

import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMailer } from '../src/mailer/index.js';
import type { Mailer } from '../src/mailer/index.js';
import { normalizeMessage } from '../src/message/index.js';
import memoryTransport from '../src/transports/memory.js';
import smtpTransport from '../src/transports/smtp.js';
import { resolveTracking } from '../src/tracking/config.js';
import { trackMessage } from '../src/tracking/shaper.js';
import { createTrackingHandler } from '../src/tracking/index.js';
import { fmt, header, median, nowMs, parseFlags, result, startSinkChild, summary } from './common.js';
import type { SinkChild } from './common.js';

const flags = parseFlags(6);
/** `--part send` or `--part http` runs one half only (direct runs; bench/run.ts runs both). */
const part = process.argv.includes('--part') ? process.argv[process.argv.indexOf('--part') + 1] : 'all';
const MESSAGES = flags.quick ? 20 : 400;
const HTTP_MS = flags.quick ? 300 : 2_000;
const CONCURRENCY = 32;
const SECRET = 'a-tracking-secret-of-32-bytes!!!';

header('tracking', flags, `${MESSAGES} messages per send round; HTTP rounds of ${HTTP_MS} ms with ${CONCURRENCY} requests in flight from a second process`);

// A newsletter: 25 links (utm query strings, some entities), images, tables, ~20 KB.
const section = (i: number) =>
  `<tr><td style="padding:16px;font-family:Arial,sans-serif"><h2 style="margin:0">Article ${i}</h2>` +
  `<p>${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(6)}</p>` +
  `<a href="https://shop.example.com/articles/${i}?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=spring" style="color:#0066cc">Read more</a> ` +
  `<img src="https://cdn.example.com/img/${i}.png" width="600" alt=""></td></tr>\n`;
const HTML = `<!doctype html><html><head><meta charset="utf-8"><style>td{font-size:14px}</style></head><body><table width="100%">${Array.from({ length: 24 }, (_, i) => section(i)).join('')}</table><p><a href="mailto:help@example.com">help</a> <a href="https://example.com/prefs">preferences</a></p></body></html>`;

// --- 1. rewriting vs sending --------------------------------------------------------------
if (part !== 'http') {

const sink: SinkChild = await startSinkChild();
const dkimKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

// The tracked body of one message, sent as is without tracking: the cost of the bigger body alone.
const TRACKED_HTML = (() => {
  const config = resolveTracking({ url: 'https://t.example.com/t', secrets: [SECRET] });
  const m = normalizeMessage({ from: 'news@example.com', to: 'ann@example.org', subject: 's', html: HTML }, { now: Date.now() });
  return trackMessage(config, m, { now: Date.now() }).html!;
})();

type Variant = 'plain' | 'tracked' | 'same-size';

async function sendRound(variant: Variant): Promise<{ cpuUsPerMsg: number; wallMsPerMsg: number }> {
  const track = variant === 'tracked';
  const html = variant === 'same-size' ? TRACKED_HTML : HTML;
  const mailer = createMailer({
    transport: smtpTransport({ host: sink.host, port: sink.port, maxConnections: 5 }),
    dkim: { keys: [{ domain: 'example.com', selector: 's1', privateKey: dkimKey }] },
    tracking: { url: 'https://t.example.com/t', secrets: [SECRET] },
    limits: { default: { ratePerSecond: 1e9, concurrency: 100 } },
  });
  // Warm the pool and the JIT.
  for (let i = 0; i < (flags.quick ? 3 : 10); i++) await mailer.send({ from: 'news@example.com', to: `warm${i}@example.org`, subject: 'warm', html }, { track });
  await mailer.onIdle();
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  for (let i = 0; i < MESSAGES; i++) {
    await mailer.send({ from: 'news@example.com', to: `reader${i}@example.org`, subject: `Spring news ${i}`, html }, { track });
  }
  await mailer.onIdle();
  const wall = nowMs() - t0;
  const cpu = process.cpuUsage(cpu0);
  await mailer.close();
  return { cpuUsPerMsg: (cpu.user + cpu.system) / MESSAGES, wallMsPerMsg: wall / MESSAGES };
}

const plainCpu: number[] = [];
const trackedCpu: number[] = [];
const sameSizeCpu: number[] = [];
const plainWall: number[] = [];
const trackedWall: number[] = [];
const overheads: number[] = [];
const sizeOverheads: number[] = [];
const variants: Variant[] = ['plain', 'tracked', 'same-size'];
for (let r = 0; r < flags.rounds; r++) {
  // Interleaved, rotating which goes first.
  const order = [...variants.slice(r % 3), ...variants.slice(0, r % 3)];
  const out = {} as Record<Variant, { cpuUsPerMsg: number; wallMsPerMsg: number }>;
  for (const v of order) out[v] = await sendRound(v);
  plainCpu.push(out.plain.cpuUsPerMsg);
  trackedCpu.push(out.tracked.cpuUsPerMsg);
  sameSizeCpu.push(out['same-size'].cpuUsPerMsg);
  plainWall.push(out.plain.wallMsPerMsg);
  trackedWall.push(out.tracked.wallMsPerMsg);
  overheads.push((out.tracked.cpuUsPerMsg / out.plain.cpuUsPerMsg - 1) * 100);
  sizeOverheads.push((out['same-size'].cpuUsPerMsg / out.plain.cpuUsPerMsg - 1) * 100);
}

// The tracking step alone.
const config = resolveTracking({ url: 'https://t.example.com/t', secrets: [SECRET] });
const normalized = normalizeMessage({ from: 'news@example.com', to: 'ann@example.org', subject: 's', html: HTML }, { now: Date.now() });
const stepUs: number[] = [];
for (let r = 0; r < flags.rounds; r++) {
  const n = flags.quick ? 50 : 3_000;
  for (let i = 0; i < 100; i++) trackMessage(config, normalized, { now: Date.now() });
  // CPU time of this process (not wall time): the other sessions' load does not inflate it.
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) trackMessage(config, normalized, { now: Date.now() });
  const c = process.cpuUsage(c0);
  stepUs.push((c.user + c.system) / n);
}
await sink.close();

console.log(`   send, CPU per message (client process): plain ${summary(plainCpu, 0, ' µs')}`);
console.log(`   send, CPU per message (client process): tracked ${summary(trackedCpu, 0, ' µs')}`);
console.log(`   send, CPU per message (client process): the tracked body sent untracked (size effect) ${summary(sameSizeCpu, 0, ' µs')}; body ${(HTML.length / 1024).toFixed(1)} KB plain, ${(TRACKED_HTML.length / 1024).toFixed(1)} KB tracked`);
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
console.log(`   of which the bigger body alone: ${signed(median(sizeOverheads))} (rounds: ${sizeOverheads.map((o) => o.toFixed(1)).join(', ')})`);
console.log(`   send, wall time per message: plain ${summary(plainWall, 3, ' ms')}, tracked ${summary(trackedWall, 3, ' ms')}`);
console.log(`   tracking step alone, CPU (25 links + pixel, ${(HTML.length / 1024).toFixed(1)} KB): ${summary(stepUs, 1, ' µs')}`);
const overhead = median(overheads);
result('tracking overhead on the CPU cost of sending', `${fmt(median(plainCpu))} µs/msg`, `${fmt(median(trackedCpu))} µs/msg`, `${signed(overhead)} (rounds: ${overheads.map((o) => o.toFixed(1)).join(', ')})`, '< 10%', overhead < 10);
const stepShare = (median(stepUs) / median(plainCpu)) * 100;
result('tracking step alone vs CPU cost of sending', `${fmt(median(plainCpu))} µs/msg`, `${median(stepUs).toFixed(1)} µs/msg`, `${stepShare.toFixed(1)}%`, '< 10%', stepShare < 10);

}

// --- 2. handler requests per second -------------------------------------------------------
if (part !== 'send') {

async function listen(server: Server): Promise<number> {
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const trackingServer = createServer();
const trackingPort = await listen(trackingServer);
const mailer: Mailer = createMailer({ transport: memoryTransport(), tracking: { url: `http://127.0.0.1:${trackingPort}/t`, secrets: [SECRET] } });
const handler = createTrackingHandler({ mailer, scanWindowMs: 0 });
trackingServer.on('request', handler.node);
const paths: string[] = [];
for (let i = 0; i < (flags.quick ? 20 : 200); i++) {
  const receipt = await mailer.send({ from: 'news@example.com', to: `reader${i}@example.org`, subject: 's', html: HTML, campaign: 'spring' }, { track: true });
  for (const m of receipt.message.html!.matchAll(/href="http:\/\/127\.0\.0\.1:\d+(\/t\/c\/[^"]+)"/g)) paths.push(m[1]!);
}
const LOCATION = 'https://shop.example.com/articles/1?utm_source=newsletter&utm_medium=email&utm_campaign=spring';
const bareServer = createServer((req, res) => {
  res.writeHead(302, { location: LOCATION, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'content-length': '0' });
  res.end();
});
const barePort = await listen(bareServer);

// The load generator, in a second process: keep-alive agent, CONCURRENCY loops, counts 302s.
const LOAD = `
const http = require('node:http');
const [port, ms, conc] = process.argv.slice(1, 4).map(Number);
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => run(JSON.parse(input)));
function run(paths) {
const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
let ok = 0, bad = 0, i = 0; const end = Date.now() + ms;
function one() { return new Promise((resolve) => {
  const req = http.request({ host: '127.0.0.1', port, path: paths[i++ % paths.length], agent, headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0' } }, (res) => {
    res.resume(); res.on('end', () => { if (res.statusCode === 302) ok++; else bad++; resolve(); });
  });
  req.on('error', () => { bad++; resolve(); }); req.end(); }); }
async function loop() { while (Date.now() < end) await one(); }
(async () => { const t0 = Date.now(); await Promise.all(Array.from({ length: conc }, loop)); const s = (Date.now() - t0) / 1000; agent.destroy(); console.log(JSON.stringify({ ok, bad, rps: ok / s })); })();
}
`;

function load(port: number, urls: readonly string[]): Promise<{ ok: number; bad: number; rps: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', LOAD, String(port), String(HTTP_MS), String(CONCURRENCY)], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin.end(JSON.stringify(urls));
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { ok: number; bad: number; rps: number }) : reject(new Error(`load generator exited with ${code}`))));
  });
}

const bareRps: number[] = [];
const trackRps: number[] = [];
const ratios: number[] = [];
for (let r = 0; r < flags.rounds; r++) {
  const order = r % 2 === 0 ? ['bare', 'tracking'] : ['tracking', 'bare'];
  const got: Record<string, number> = {};
  for (const which of order) {
    // Both get the same requests (the same long tracking paths): only the answering differs.
    const res = await load(which === 'bare' ? barePort : trackingPort, paths);
    if (res.bad > 0) throw new Error(`${which}: ${res.bad} requests did not answer 302`);
    got[which] = res.rps;
    if (which === 'tracking') await handler.settled();
  }
  bareRps.push(got.bare!);
  trackRps.push(got.tracking!);
  ratios.push(got.tracking! / got.bare!);
}
await handler.settled();
const spring = await mailer.store.campaigns?.get('spring');
console.log(`   bare node:http 302: ${summary(bareRps, 0, ' req/s')}`);
console.log(`   tracking handler 302: ${summary(trackRps, 0, ' req/s')}`);
console.log(`   clicks processed: ${handler.stats.clicks} (dropped ${handler.stats.dropped}, failed ${handler.stats.failed}); campaign 'spring': clicked.total ${spring?.counts['clicked.total'] ?? 0} human + clicked.machine.total ${spring?.counts['clicked.machine.total'] ?? 0} machine (the load generator clicks several links of a message within 2 s: link-burst)`);
const ratio = median(ratios);
result('tracking handler vs bare node:http redirect', `${fmt(median(bareRps))} req/s`, `${fmt(median(trackRps))} req/s`, `${ratio.toFixed(2)}x (rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')})`, '>= 0.7x', ratio >= 0.7);

await mailer.close();
await new Promise((r) => trackingServer.close(r));
await new Promise((r) => bareServer.close(r));
}

/**
 * DKIM-signed SMTP throughput to a sink in another process.
 *
 * - mailpush unsigned: createMailer + smtpTransport (the baseline of the 0.6x target)
 * - mailpush signed: the same, each job DKIM-signed with an RSA 2048 key (KeyObject parsed
 *   once, signing on libuv's thread pool, inside nodemailer's streaming pipeline)
 * - nodemailer PEM: raw nodemailer pooled `sendMail` with its own `dkim` option and the key
 *   as a PEM string (the baseline of the 2x target)
 * - informational: mailpush dual-signed (RSA 2048 + Ed25519)
 * - informational, signing only (no SMTP, no composing): mailpush `signatureHeaders` against
 *   nodemailer's `DKIM#sign` with the PEM key, on the same composed message, 5 at a time
 *
 * 5,000 messages of ~2 KB (text and HTML), one recipient each, 5 pooled connections,
 * maxMessages 100 on every side. Runs rotate their order each round after one warm-up of
 * each; medians are reported. CPU per message is the client process's user+system time
 * (signing threads included), which is steadier than wall time on a shared machine.
 *
 * Until the mailer takes a `dkim` option, the signed runs wrap the SMTP transport so each
 * job gets `prepareMessage(..., signer)` exactly as runJob will build it.
 *
 * Run: npx tsx bench/dkim.ts [--quick] [--rounds N]
 */

import { generateKeyPairSync } from 'node:crypto';
import { createTransport } from 'nodemailer';
import NodemailerDkim from 'nodemailer/lib/dkim';
import type { SendMailOptions } from 'nodemailer';
import { createDkimSigner } from '../src/auth/dkim.js';
import type { DkimSigner } from '../src/auth/dkim.js';
import { createMailer } from '../src/mailer/index.js';
import { composeMessage } from '../src/message/compose.js';
import { normalizeMessage } from '../src/message/normalize.js';
import { prepareMessage } from '../src/message/prepared.js';
import smtpTransport from '../src/transports/smtp.js';
import type { MessageInput, Transport } from '../src/types.js';
import { fmt, header, median, nowMs, parseFlags, result, startSinkChild, summary } from './common.js';
import type { SinkChild } from './common.js';

const flags = parseFlags(3);
const COUNT = flags.quick ? 200 : 5_000;
const CONNECTIONS = 5;
const MAX_MESSAGES = 100;
const DOMAINS = 10;
const FROM_DOMAIN = 'shop.example.com';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const ed = generateKeyPairSync('ed25519').privateKey;
const rsaPem = rsa.export({ type: 'pkcs8', format: 'pem' }) as string;
const rsaSigner = createDkimSigner({ keys: [{ domain: FROM_DOMAIN, selector: 'rsa1', privateKey: rsaPem }] });
const dualSigner = createDkimSigner({
  keys: [
    { domain: FROM_DOMAIN, selector: 'rsa1', privateKey: rsaPem },
    { domain: FROM_DOMAIN, selector: 'ed1', privateKey: ed },
  ],
});

const paragraph = 'Hello, your order has shipped and is on its way. Track it any time from your account page. ';
const text = paragraph.repeat(Math.ceil(950 / paragraph.length)).slice(0, 950);
const html = `<html><body><p>${text.slice(0, 900)}</p></body></html>`;
const inputs: MessageInput[] = [];
const raws: SendMailOptions[] = [];
for (let i = 0; i < COUNT; i++) {
  const to = `customer${i}@shop${i % DOMAINS}.example`;
  const subject = `Your order #${100000 + i} has shipped`;
  inputs.push({ from: `Shop <orders@${FROM_DOMAIN}>`, to, subject, text, html });
  raws.push({ from: `Shop <orders@${FROM_DOMAIN}>`, to, subject, text, html });
}

interface Run {
  readonly perSecond: number;
  readonly cpuUsPerMessage: number;
  readonly bytesPerMessage: number;
}

const sink: SinkChild = await startSinkChild();

async function measure(fn: () => Promise<void>): Promise<Run> {
  const before = await sink.count();
  const cpu = process.cpuUsage();
  const start = nowMs();
  await fn();
  const ms = nowMs() - start;
  const used = process.cpuUsage(cpu);
  const after = await sink.count();
  const count = after.count - before.count;
  if (count !== COUNT) throw new Error(`sink received ${count} messages, expected ${COUNT}`);
  return { perSecond: (COUNT / ms) * 1000, cpuUsPerMessage: (used.user + used.system) / COUNT, bytesPerMessage: (after.bytes - before.bytes) / count };
}

/** What runJob does once the mailer has a `dkim` option: prepareMessage with the From domain's signer. */
function signing(transport: Transport, dkim: DkimSigner): Transport {
  return {
    ...transport,
    send: (p, context) => transport.send(prepareMessage(p.jobId, p.message, p.envelope, dkim.signerFor(p.message)), context),
  };
}

function runMailpush(dkim: DkimSigner | undefined): Promise<Run> {
  return measure(async () => {
    const smtp = smtpTransport({ host: sink.host, port: sink.port, maxConnections: CONNECTIONS, maxMessages: MAX_MESSAGES, ignoreTLS: true });
    // The unsigned run goes through the same kind of wrapper, so the two differ only in signing.
    const transport: Transport = dkim === undefined ? { ...smtp, send: (p, c) => smtp.send(prepareMessage(p.jobId, p.message, p.envelope), c) } : signing(smtp, dkim);
    const mailer = createMailer({ transport });
    let sent = 0;
    let failed = 0;
    mailer.on('sent', () => {
      sent++;
    });
    mailer.on('failed', (e) => {
      failed++;
      if (failed === 1) console.error(`   first failure: ${e.error.code} ${e.error.message}`);
    });
    await mailer.ready();
    for (const m of inputs) await mailer.send(m);
    await mailer.onIdle();
    await mailer.close();
    if (sent !== COUNT || failed !== 0) throw new Error(`mailpush: ${sent} sent, ${failed} failed, expected ${COUNT} sent`);
  });
}

function runNodemailerPem(): Promise<Run> {
  return measure(async () => {
    const pool = createTransport({
      pool: true,
      host: sink.host,
      port: sink.port,
      maxConnections: CONNECTIONS,
      maxMessages: MAX_MESSAGES,
      ignoreTLS: true,
      dkim: { domainName: FROM_DOMAIN, keySelector: 'rsa1', privateKey: rsaPem },
    });
    await Promise.all(raws.map((m) => pool.sendMail(m)));
    pool.close();
  });
}

const variants = {
  unsigned: () => runMailpush(undefined),
  signed: () => runMailpush(rsaSigner),
  nodemailerPem: runNodemailerPem,
  dual: () => runMailpush(dualSigner),
} as const;
type Variant = keyof typeof variants;
const order: Variant[] = ['unsigned', 'signed', 'nodemailerPem', 'dual'];

header(
  'dkim',
  flags,
  `${fmt(COUNT)} messages (~2 KB, text+html, 1 recipient, ${DOMAINS} domains), ${CONNECTIONS} pooled connections, maxMessages ${MAX_MESSAGES}, RSA 2048, sink in a child process`,
);

if (!flags.quick) for (const v of order) await variants[v]();

const runs: Record<Variant, Run[]> = { unsigned: [], signed: [], nodemailerPem: [], dual: [] };
for (let r = 0; r < flags.rounds; r++) {
  // Rotate the order so no variant always runs first (or last) in a round.
  const rotated = [...order.slice(r % order.length), ...order.slice(0, r % order.length)];
  for (const v of rotated) runs[v].push(await variants[v]());
  console.log(
    `   round ${r + 1}: ` +
      order.map((v) => `${v} ${fmt(runs[v][r]!.perSecond)} msg/s (${fmt(runs[v][r]!.cpuUsPerMessage)} us cpu/msg)`).join(', '),
  );
}

// Signing alone: the cost of the signer itself, without SMTP or MIME composition around it.
const SIGN_COUNT = flags.quick ? 150 : 3_000;
const composed = await composeMessage(normalizeMessage(inputs[0]!, { now: Date.now() }));
const messageSigner = rsaSigner.signerFor({ from: { address: `orders@${FROM_DOMAIN}` } })!;
const nodemailerDkim = new NodemailerDkim({ domainName: FROM_DOMAIN, keySelector: 'rsa1', privateKey: rsaPem });

async function signingRun(signOne: () => Promise<unknown>): Promise<{ perSecond: number; cpuUs: number }> {
  let next = 0;
  const cpu = process.cpuUsage();
  const start = nowMs();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next++ < SIGN_COUNT) await signOne();
    }),
  );
  const ms = nowMs() - start;
  const used = process.cpuUsage(cpu);
  return { perSecond: (SIGN_COUNT / ms) * 1000, cpuUs: (used.user + used.system) / SIGN_COUNT };
}
const signMailpush = (): Promise<unknown> => messageSigner.signatureHeaders(composed);
const signNodemailer = (): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const out = nodemailerDkim.sign(composed);
    out.on('data', (c: Buffer) => chunks.push(c));
    out.on('end', () => resolve(Buffer.concat(chunks)));
    out.on('error', reject);
  });
const signingMp: { perSecond: number; cpuUs: number }[] = [];
const signingNm: { perSecond: number; cpuUs: number }[] = [];
if (!flags.quick) {
  await signingRun(signMailpush);
  await signingRun(signNodemailer);
}
for (let r = 0; r < flags.rounds; r++) {
  if (r % 2 === 0) {
    signingNm.push(await signingRun(signNodemailer));
    signingMp.push(await signingRun(signMailpush));
  } else {
    signingMp.push(await signingRun(signMailpush));
    signingNm.push(await signingRun(signNodemailer));
  }
}

const rate = (v: Variant): number[] => runs[v].map((x) => x.perSecond);
const vsUnsigned = runs.signed.map((s, i) => s.perSecond / runs.unsigned[i]!.perSecond);
const vsNodemailer = runs.signed.map((s, i) => s.perSecond / runs.nodemailerPem[i]!.perSecond);
const dualVsUnsigned = runs.dual.map((s, i) => s.perSecond / runs.unsigned[i]!.perSecond);
result('signed vs unsigned (msg/s)', summary(rate('unsigned'), 0), summary(rate('signed'), 0), summary(vsUnsigned, 3), '>= 0.6', median(vsUnsigned) >= 0.6);
result('signed vs nodemailer dkim PEM (msg/s)', summary(rate('nodemailerPem'), 0), summary(rate('signed'), 0), summary(vsNodemailer, 3), '>= 2.0', median(vsNodemailer) >= 2);
result('dual RSA+Ed25519 vs unsigned (msg/s)', summary(rate('unsigned'), 0), summary(rate('dual'), 0), summary(dualVsUnsigned, 3), 'info', undefined);
const signingRatios = signingMp.map((m, i) => m.perSecond / signingNm[i]!.perSecond);
result(
  'signing only, mailpush vs nodemailer DKIM#sign with PEM (signatures/s)',
  summary(signingNm.map((x) => x.perSecond), 0),
  summary(signingMp.map((x) => x.perSecond), 0),
  summary(signingRatios, 2),
  'info',
  undefined,
);
console.log(
  `   signing only, cpu per signature (us, median): mailpush ${fmt(median(signingMp.map((x) => x.cpuUs)))}, nodemailer PEM ${fmt(median(signingNm.map((x) => x.cpuUs)))}`,
);
const cpu = (v: Variant): string => fmt(median(runs[v].map((x) => x.cpuUsPerMessage)));
console.log(`   cpu per message (us, median): unsigned ${cpu('unsigned')}, signed ${cpu('signed')}, dual ${cpu('dual')}, nodemailer PEM ${cpu('nodemailerPem')}`);
const bytes = (v: Variant): string => fmt(median(runs[v].map((x) => x.bytesPerMessage)));
console.log(`   bytes per message at the sink: unsigned ${bytes('unsigned')}, signed ${bytes('signed')}, dual ${bytes('dual')}, nodemailer PEM ${bytes('nodemailerPem')}`);
await sink.close();

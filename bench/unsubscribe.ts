/**
 * Unsubscribe costs.
 *
 * 1. What the unsubscribe step costs per marketing message (token sealed, two headers, body
 *    link and postal address on a 5 KB newsletter: `createUnsubscribeShaper(...).message`),
 *    against the DKIM RSA-2048 signature every such message also needs (`signatureHeaders` of
 *    the composed message), rounds interleaved. Target: the step under 10% of the signature.
 *    Also printed, without a target: `mailer.send()` CPU per message through the memory
 *    transport (accept, journal, dispatch, no network, no DKIM) with and without `unsubscribe`.
 * 2. Token verification per second (what the endpoint does before anything else), against
 *    creating one (the baseline). Target: >= 10,000 per second (more than node:http answers).
 *
 * Run: npx tsx bench/unsubscribe.ts [--quick] [--rounds N]
 */

import { generateKeyPairSync } from 'node:crypto';
import { createDkimSigner } from '../src/auth/dkim.js';
import { createMailer } from '../src/mailer/index.js';
import { composeMessage, normalizeMessage } from '../src/message/index.js';
import memoryTransport from '../src/transports/memory.js';
import { createUnsubscribeShaper } from '../src/unsubscribe/shaper.js';
import { createToken, deriveTokenKeys, verifyToken } from '../src/unsubscribe/token.js';
import { fmt, header, median, nowMs, parseFlags, result, summary } from './common.js';

const flags = parseFlags(7);
const MESSAGES = flags.quick ? 300 : 3_000;
const TOKENS = flags.quick ? 5_000 : 50_000;
const SECRET = 'an-unsubscribe-secret-of-32-bytes';

header('unsubscribe', flags, `${MESSAGES} marketing messages per send round, ${TOKENS} tokens per token round`);

const HTML = `<html><body>${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>'.repeat(80)}<p><a href="%%unsubscribe_url%%">Unsubscribe</a> %%postal_address%%</p></body></html>`;

async function sendRound(withUnsubscribe: boolean): Promise<number> {
  const mailer = createMailer({
    transport: memoryTransport({ record: false }),
    limits: { default: { ratePerSecond: 1e9, concurrency: 100 } },
    ...(withUnsubscribe ? { unsubscribe: { url: 'https://u.example.com/unsubscribe', secrets: [SECRET] }, postalAddress: 'Example Inc., 1 Main St, Springfield' } : {}),
  });
  const options = withUnsubscribe ? {} : { skipMarketingCompliance: true };
  const message = (i: number) => ({ from: 'news@example.com', to: `reader${i}@example.org`, subject: `News ${i}`, html: HTML, text: 'Hello %%unsubscribe_url%%', category: 'marketing' as const, list: 'weekly' });
  for (let i = 0; i < 200; i++) await mailer.send(message(i), options);
  await mailer.onIdle();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < MESSAGES; i++) await mailer.send(message(i), options);
  await mailer.onIdle();
  const cpu = process.cpuUsage(cpu0);
  await mailer.close();
  return (cpu.user + cpu.system) / MESSAGES;
}

// --- 1a. the step against a DKIM signature -------------------------------------------------

const dkim = createDkimSigner({ keys: [{ domain: 'example.com', selector: 's1', privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey }] }, { now: () => Date.now() } as never);
const step = createUnsubscribeShaper({ unsubscribe: { url: 'https://u.example.com/unsubscribe', secrets: [SECRET] }, postalAddress: 'Example Inc., 1 Main St, Springfield' });
const base = normalizeMessage({ from: 'news@example.com', to: 'reader@example.org', subject: 'News', html: HTML, text: 'Hello %%unsubscribe_url%%', category: 'marketing', list: 'weekly' }, { now: Date.now() });
const signer = dkim.signerFor(base);
if (signer === undefined || step.message === undefined) throw new Error('no signer or no step');
const raw = await composeMessage(step.message(base, { options: {}, now: Date.now() }));
const STEPS = flags.quick ? 2_000 : 20_000;
const SIGNS = flags.quick ? 20 : 200;
const stepUs: number[] = [];
const signUs: number[] = [];
for (let r = 0; r < flags.rounds; r++) {
  let t0 = nowMs();
  for (let i = 0; i < STEPS; i++) step.message(base, { options: {}, now: Date.now() });
  stepUs.push(((nowMs() - t0) * 1000) / STEPS);
  t0 = nowMs();
  for (let i = 0; i < SIGNS; i++) await signer.signatureHeaders(raw);
  signUs.push(((nowMs() - t0) * 1000) / SIGNS);
}
console.log(`   unsubscribe step, µs per message:    ${summary(stepUs, 1)}`);
console.log(`   DKIM RSA-2048 signature, µs per message: ${summary(signUs, 1)}`);
const share = median(stepUs) / median(signUs);
result('unsubscribe step vs DKIM signature', `${fmt(median(signUs), 1)} µs`, `${fmt(median(stepUs), 1)} µs`, `${(share * 100).toFixed(1)}%`, '< 10%', share < 0.1);

// --- 1b. send through the memory transport, with and without (no target) --------------------

const plain: number[] = [];
const unsub: number[] = [];
const ratios: number[] = [];
for (let r = 0; r < flags.rounds; r++) {
  // Interleaved, alternating which goes first, so drift in the machine's load hits both.
  const first = r % 2 === 0;
  const a = first ? await sendRound(false) : await sendRound(true);
  const b = first ? await sendRound(true) : await sendRound(false);
  const [p, u] = first ? [a, b] : [b, a];
  plain.push(p);
  unsub.push(u);
  ratios.push(u / p);
}
console.log(`   send, CPU µs per message, without unsubscribe: ${summary(plain, 1)}`);
console.log(`   send, CPU µs per message, with unsubscribe:    ${summary(unsub, 1)}`);
console.log(`   ratio per round: ${summary(ratios, 3)}`);
result('memory-transport send with unsubscribe', `${fmt(median(plain), 1)} µs`, `${fmt(median(unsub), 1)} µs`, `+${((median(ratios) - 1) * 100).toFixed(1)}%`, 'none (no network, no DKIM: the cheapest send)', undefined);

const keys = deriveTokenKeys([SECRET]);
const now = Date.now();
const tokens = Array.from({ length: 1000 }, (_, i) => createToken(keys, 'weekly', `reader${i}@example.org`, now, 'spring-2026'));
const createRates: number[] = [];
const verifyRates: number[] = [];
for (let r = 0; r < flags.rounds; r++) {
  let t0 = nowMs();
  for (let i = 0; i < TOKENS; i++) createToken(keys, 'weekly', `reader${i}@example.org`, now);
  createRates.push(TOKENS / ((nowMs() - t0) / 1000));
  t0 = nowMs();
  let ok = 0;
  for (let i = 0; i < TOKENS; i++) if (verifyToken(keys, tokens[i % tokens.length], now, 365 * 86_400_000).ok) ok++;
  verifyRates.push(TOKENS / ((nowMs() - t0) / 1000));
  if (ok !== TOKENS) throw new Error(`only ${ok} of ${TOKENS} tokens verified`);
}
console.log(`   tokens created per second:  ${summary(createRates, 0)}`);
console.log(`   tokens verified per second: ${summary(verifyRates, 0)}`);
result('token verification', `${fmt(median(createRates))}/s created`, `${fmt(median(verifyRates))}/s verified`, (median(verifyRates) / median(createRates)).toFixed(2), '>= 10,000/s', median(verifyRates) >= 10_000);

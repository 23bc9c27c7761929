/**
 * Micro benchmark of normalizeMessage: rounds of 100k messages of about 2 KB (text and html)
 * with three recipients, headers, tags and metadata. Prints messages per second and the time
 * per message. No assertions.
 *
 * Run: npx tsx bench/normalize.ts
 */

import { normalizeMessage } from '../src/message/normalize.js';
import type { MessageInput } from '../src/types.js';

const COUNT = 100_000;
const WARMUP = 20_000;

const paragraph = 'Hello Ann, your order #12345 has shipped and is on its way. Track it any time from your account page. ';
const text = paragraph.repeat(Math.ceil(1000 / paragraph.length)).slice(0, 1000);
const html = `<html><body><p>${text.slice(0, 960)}</p></body></html>`;

function makeMessage(i: number): MessageInput {
  return {
    from: 'Shop Example <orders@shop.example.com>',
    to: [`Ann Example <ann.${i}@example.com>`, `bob.${i}@example.org`],
    cc: { address: `carol.${i}@example.net`, name: 'Carol' },
    subject: `Your order #${i} has shipped`,
    text,
    html,
    headers: { 'X-Campaign': 'shipping', 'List-Id': '<orders.shop.example.com>' },
    tags: { kind: 'shipping' },
    metadata: { orderId: i, userId: `u${i}` },
  };
}

const options = { now: Date.now() };
// Inputs are built in small batches right before they are normalized, as a host builds a
// message and sends it: a 100k-message array built upfront would measure cache misses.
const BATCH = 1000;

let sink = 0;
function run(count: number): number {
  let elapsedNs = 0;
  for (let done = 0; done < count; done += BATCH) {
    const batch: MessageInput[] = [];
    for (let i = 0; i < BATCH; i++) batch.push(makeMessage(done + i));
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) sink += normalizeMessage(batch[i]!, options).sizeBytes;
    elapsedNs += Number(process.hrtime.bigint() - start);
  }
  return elapsedNs;
}

run(WARMUP);
// Several rounds: the best one is the least disturbed by other processes, the median shows
// the spread. Each round normalizes COUNT messages.
const ROUNDS = 5;
const rounds: number[] = [];
for (let r = 0; r < ROUNDS; r++) rounds.push(run(COUNT));
rounds.sort((a, b) => a - b);

const format = (ns: number): string =>
  `${Math.round(COUNT / (ns / 1e9)).toLocaleString('en-US')} messages/s (${(ns / COUNT / 1000).toFixed(2)} µs/message)`;
console.log(`normalizeMessage: ${COUNT.toLocaleString('en-US')} messages of ~${text.length + html.length} bytes of body, 3 recipients, ${ROUNDS} rounds`);
console.log(`  best   ${format(rounds[0]!)}`);
console.log(`  median ${format(rounds[Math.floor(ROUNDS / 2)]!)}   (checksum ${sink % 1000})`);

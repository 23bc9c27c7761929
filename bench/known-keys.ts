/**
 * Cost of refusing unknown keys on the hot path of send(): the key checks of a message and
 * its send options (two set lookups per key) against the whole validation they are part of
 * (checkSendOptions + normalizeMessage, i.e. what send() does before the queue). The time
 * "before" the checks existed is that whole minus the checks, measured in the same rounds;
 * the ratio after/before is the slowdown of the accept stage. Rounds are interleaved.
 *
 * Run: npx tsx bench/known-keys.ts [--quick] [--rounds N]
 */

import { checkSendOptions, SEND_OPTION_KEYS } from '../src/mailer/accept.js';
import { MESSAGE_KEYS, normalizeMessage } from '../src/message/normalize.js';
import type { MessageInput } from '../src/types.js';
import { findUnknownKey } from '../src/validation/known-keys.js';
import { fmt, header, parseFlags, result, summary } from './common.js';

const flags = parseFlags(7);
const COUNT = flags.quick ? 20_000 : 200_000;
const text = 'Your sign-in code is 123456. It expires in 10 minutes. If you did not ask for it, ignore this mail. '.repeat(3);

function makeMessage(i: number): MessageInput {
  return { from: 'App <app@example.com>', to: `user${i}@d${i % 100}.example`, subject: `Code ${i}`, text, tags: { kind: 'code' }, metadata: { i } };
}

const sendOptions = { priority: 'critical' as const, idempotencyKey: 'k' };
const messages = Array.from({ length: 1_000 }, (_, i) => makeMessage(i));
let sink = 0;

/** ns per message for the key checks alone. */
function checksOnly(n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const m = messages[i % messages.length]!;
    if (findUnknownKey(m, MESSAGE_KEYS) !== undefined || findUnknownKey(sendOptions, SEND_OPTION_KEYS) !== undefined) sink++;
  }
  return Number(process.hrtime.bigint() - t0) / n;
}

/** ns per message for what send() validates (with the checks). */
function accept(n: number): number {
  const now = Date.now();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    checkSendOptions(sendOptions);
    sink += normalizeMessage(messages[i % messages.length]!, { now }).sizeBytes;
  }
  return Number(process.hrtime.bigint() - t0) / n;
}

header('known keys: unknown-key checks on the send() path', flags, `${fmt(COUNT)} messages per round`);
checksOnly(COUNT / 4);
accept(COUNT / 4);
const checkNs: number[] = [];
const acceptNs: number[] = [];
const ratios: number[] = [];
for (let r = 0; r < flags.rounds; r++) {
  const c = checksOnly(COUNT);
  const a = accept(COUNT);
  checkNs.push(c);
  acceptNs.push(a);
  ratios.push(a / (a - c));
}
console.log(`   key checks alone: ${summary(checkNs, 1, ' ns/message')}`);
console.log(`   send() validation with the checks: ${summary(acceptNs, 0, ' ns/message')}`);
const before = acceptNs.map((a, i) => a - checkNs[i]!);
result('accept stage ns/message', `${summary(before, 0)} (without checks)`, `${summary(acceptNs, 0)}`, summary(ratios, 3, 'x'), '<= 1.05x', ratios.length > 0 && ratios.sort((x, y) => x - y)[ratios.length >> 1]! <= 1.05);
if (sink === -1) console.log(sink);

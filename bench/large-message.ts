/**
 * Large messages and the host's event loop: composing (and sending over SMTP) one message with
 * a 1, 5 or 10 MB attachment, while a 10 ms `setInterval` counts its ticks. Reports the ticks
 * kept, the longest gap between two ticks (the longest single turn the work held the loop), the
 * wall and CPU time, and the attachment MB per second of wall time.
 *
 * - `build`: nodemailer's `MailComposer(...).compile().build()` of the same mail options (what
 *   mailpush used for messages over 64 KiB of content before 559473c);
 * - `compose`: mailpush's `composeMessage` (sliced above 64 KiB);
 * - `smtp raw`: the SMTP transport sending a prepared message (compose + nodemailer's `raw`
 *   option) to Postfix's smtp-sink (a separate process; our Node sink if Postfix is missing);
 * - `smtp nodemailer`: nodemailer's own pooled `sendMail` of the message with the attachment;
 * - `ses`, `sendgrid`: the SES (raw MIME) and SendGrid (JSON with base64 attachments) transports
 *   sending the prepared message to the fakes of mailpush/testing, run in a child process (this
 *   file with `--serve`) so that their parsing is not charged to the loop under test;
 * - `normalize`: `normalizeMessage` of the input (one synchronous call; its duration is the gap).
 *
 * "max CPU between ticks" is the process CPU time (all threads) between two ticks of the
 * interval: unlike the wall-clock gap it does not grow when other processes take the cores,
 * and a turn that holds the loop for X ms of CPU shows as at least X (with several turns in
 * one gap when the timer is late). "longest turn CPU" comes from a second run of the same
 * work with a `setImmediate` chain instead of the interval: the process CPU time of each turn
 * of the event loop, the largest one (the chain keeps the loop spinning, so that pass's own
 * wall and CPU time are not reported).
 *
 * Rounds are interleaved (every mode and size once per round). A quoted-printable case (a
 * 2 MB HTML body) and the largest attachment with non-ASCII header fields run alongside.
 *
 * Run: npx tsx bench/large-message.ts [--quick] [--rounds N] [--sizes 1,5,10] [--modes ses,sendgrid]
 * (`--sizes` picks the attachment sizes in MB, `--modes` a comma-separated subset of the modes;
 * `--no-html` leaves the quoted-printable case out, `--no-utf8` the case of the largest
 * attachment with a header block that is not ASCII: In-Reply-To and References, which
 * nodemailer writes as UTF-8).
 */

import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { createTransport } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { composeMessage, toMailOptions } from '../src/message/compose.js';
import { normalizeMessage } from '../src/message/normalize.js';
import { prepareMessage } from '../src/message/prepared.js';
import { startSendGridServer } from '../src/testing/sendgrid-server.js';
import { startSesServer } from '../src/testing/ses-server.js';
import sendgridTransport from '../src/transports/sendgrid.js';
import sesTransport from '../src/transports/ses.js';
import smtpTransport from '../src/transports/smtp.js';
import type { MessageInput, NormalizedMessage } from '../src/types.js';
import { ROOT, SMTP_SINK, fmt, header, median, parseFlags, startPostfixSink, startSinkChild } from './common.js';
import { loopHealth, type LoopHealth } from './loop-health.js';

const flags = parseFlags(5);
/** The comma-separated value of `--name`, or undefined. */
function listFlag(name: string): string[] | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : (process.argv[i + 1] ?? '').split(',').filter((v) => v !== '');
}
const SIZES_MB = listFlag('sizes')?.map(Number) ?? (flags.quick ? [1] : [1, 5, 10]);
if (SIZES_MB.some((mb) => !Number.isInteger(mb) || mb < 1)) throw new Error(`Expected --sizes to list integers >= 1, got ${SIZES_MB.join(',')}`);

/** The largest process CPU time of one turn of the event loop while `work` runs. */
async function longestTurnCpu(work: () => Promise<unknown>): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 30));
  let longest = 0;
  let last = process.cpuUsage();
  let done = false;
  const turn = (): void => {
    const c = process.cpuUsage();
    longest = Math.max(longest, (c.user - last.user + c.system - last.system) / 1000);
    last = c;
    if (!done) setImmediate(turn);
  };
  setImmediate(turn);
  await work();
  done = true;
  turn();
  return longest;
}

type Kind = 'attachment' | 'html' | 'utf8 headers';
function input(kind: Kind, mb: number, bytes: Buffer): MessageInput {
  const base = { from: 'Shop <shop@example.com>', to: 'ann@example.org', subject: `Report ${mb} MB`, text: 'Your report is attached.' };
  if (kind === 'attachment') return { ...base, attachments: [{ filename: 'report.pdf', content: bytes }] };
  // Header fields nodemailer does not MIME-encode: a header block that is not ASCII.
  if (kind === 'utf8 headers') return { ...base, headers: { 'In-Reply-To': '<bestellung-größe@example.com>', References: '<bestellung-größe@example.com>' }, attachments: [{ filename: 'report.pdf', content: bytes }] };
  // Quoted-printable: 8-bit text with long lines.
  const line = 'Grüße aus Köln, Ihre Bestellung ist unterwegs. Straße, Maß, Größe: ';
  return { ...base, html: `<p>${line.repeat(Math.ceil((mb * 1_000_000) / Buffer.byteLength(line)))}</p>` };
}

type Mode = 'normalize' | 'build' | 'compose' | 'smtp raw' | 'smtp nodemailer' | 'ses' | 'sendgrid';
/** A {@link LoopHealth} with the longest turn's CPU time. */
type Sample = LoopHealth & { readonly turnCpuMs: number };
const samples = new Map<string, Sample[]>();
const add = (key: string, s: Sample): void => void (samples.get(key) ?? samples.set(key, []).get(key)!).push(s);

if (process.argv.includes('--serve')) {
  // The child: both HTTP fakes, their addresses on stdout, exit when stdin closes.
  const ses = await startSesServer({ keepMessages: false });
  const sendgrid = await startSendGridServer({ record: false });
  process.stdout.write(`${JSON.stringify({ ses: { endpoint: ses.endpoint, region: ses.region }, sendgrid: { baseUrl: sendgrid.baseUrl, apiKey: sendgrid.apiKey } })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void Promise.all([ses.close(), sendgrid.close()]).then(() => process.exit(0)));
  await new Promise(() => {});
}

const fakes = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
const fakesExited = new Promise<void>((resolve) => fakes.once('exit', () => resolve()));
const addresses = await new Promise<{ ses: { endpoint: string; region: string }; sendgrid: { baseUrl: string; apiKey: string } }>((resolve) =>
  createInterface({ input: fakes.stdout }).once('line', (line) => resolve(JSON.parse(line) as never)),
);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const ses = sesTransport({ region: addresses.ses.region, endpoint: addresses.ses.endpoint, credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'not-a-secret' } });
const sendgrid = sendgridTransport({ apiKey: addresses.sendgrid.apiKey, baseUrl: addresses.sendgrid.baseUrl });

const usePostfix = existsSync(SMTP_SINK);
const sink = usePostfix ? await startPostfixSink() : await startSinkChild();
const smtp = smtpTransport({ host: sink.host, port: sink.port, maxConnections: 1 });
const nm = createTransport({ host: sink.host, port: sink.port, pool: true, maxConnections: 1, secure: false, ignoreTLS: true });

header('large-message', flags, `one message with a large attachment, a 10 ms interval counting ticks; SMTP to ${usePostfix ? "Postfix's smtp-sink" : 'bench/sink-process.ts'}`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores)`);

const cases: { kind: Kind; mb: number }[] = [
  ...SIZES_MB.map((mb) => ({ kind: 'attachment' as const, mb })),
  ...(process.argv.includes('--no-html') ? [] : [{ kind: 'html' as const, mb: flags.quick ? 1 : 2 }]),
  // The largest attachment again, with a header block that is not ASCII.
  ...(process.argv.includes('--no-utf8') ? [] : [{ kind: 'utf8 headers' as const, mb: Math.max(...SIZES_MB) }]),
];
const ALL_MODES: readonly Mode[] = ['normalize', 'build', 'compose', 'smtp raw', 'smtp nodemailer', 'ses', 'sendgrid'];
const modes = (listFlag('modes') ?? ALL_MODES) as Mode[];
for (const m of modes) if (!ALL_MODES.includes(m)) throw new Error(`Expected --modes to list some of ${ALL_MODES.join(', ')}, got ${m}`);
const controller = new AbortController();
// Warm-up (not recorded): the SDK loads on first use, connections open, code gets compiled.
{
  const warm = normalizeMessage(input('attachment', 1, randomBytes(100_000)), { now: Date.now() });
  const envelope = { from: warm.returnPath, to: ['ann@example.org'] };
  await new MailComposer(toMailOptions(warm)).compile().build();
  await composeMessage(warm);
  for (const t of [smtp, ses, sendgrid]) await t.send(prepareMessage('warm-up', warm, envelope), { signal: controller.signal, attempt: 1 });
  await nm.sendMail({ ...toMailOptions(warm), envelope });
}
for (let round = 0; round < flags.rounds; round++) {
  for (const c of cases) {
    const bytes = randomBytes(c.mb * 1_000_000);
    const mi = input(c.kind, c.mb, bytes);
    let message: NormalizedMessage = normalizeMessage(mi, { now: Date.now() });
    // Alternate the order of the modes between rounds.
    const order = round % 2 === 0 ? modes : [...modes].reverse();
    for (const mode of order) {
      const key = `${c.kind} ${c.mb} MB: ${mode}`;
      const work = async (): Promise<unknown> => {
        switch (mode) {
          case 'normalize':
            message = normalizeMessage(mi, { now: Date.now() });
            return message;
          case 'build':
            return new MailComposer(toMailOptions(message)).compile().build();
          case 'compose':
            return composeMessage(message);
          case 'smtp raw':
            return smtp.send(prepareMessage(`job-${round}`, message, { from: message.returnPath, to: ['ann@example.org'] }), { signal: controller.signal, attempt: 1 });
          case 'smtp nodemailer':
            return nm.sendMail({ ...toMailOptions(message), envelope: { from: message.returnPath, to: ['ann@example.org'] } });
          case 'ses':
          case 'sendgrid':
            return (mode === 'ses' ? ses : sendgrid).send(prepareMessage(`job-${round}`, message, { from: message.returnPath, to: ['ann@example.org'] }), { signal: controller.signal, attempt: 1 });
        }
      };
      const health = await loopHealth(work);
      add(key, { ...health, turnCpuMs: await longestTurnCpu(work) });
    }
  }
}

const range = (v: readonly number[], d = 0): string => `${fmt(median(v), d)} (${fmt(Math.min(...v), d)}-${fmt(Math.max(...v), d)})`;
console.log(`\n| case | mode | longest gap ms | max CPU between ticks ms | longest turn CPU ms | ticks kept % | wall ms | CPU ms | MB/s (wall) |`);
console.log(`|---|---|---|---|---|---|---|---|---|`);
for (const [key, list] of samples) {
  const [c, mode] = key.split(': ') as [string, string];
  const mb = Number(/ (\d+) MB/.exec(c)?.[1]);
  console.log(
    `| ${c} | ${mode} | ${range(list.map((s) => s.longestGapMs), 1)} | ${range(list.map((s) => s.longestCpuMs), 1)} | ${range(list.map((s) => s.turnCpuMs), 1)} | ${range(list.map((s) => s.kept * 100))} | ${range(list.map((s) => s.ms))} | ${range(list.map((s) => s.cpuUs / 1000))} | ${range(list.map((s) => (mb * 1000) / s.ms), 1)} |`,
  );
}
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const OURS: readonly Mode[] = ['compose', 'smtp raw', 'ses', 'sendgrid'];
const ours = [...samples].filter(([k]) => OURS.some((m) => k.endsWith(`: ${m}`)));
if (ours.length > 0) {
  const worst = Math.max(...ours.flatMap(([, l]) => l.map((s) => s.longestGapMs)));
  const worstCpu = Math.max(...ours.flatMap(([, l]) => l.map((s) => s.turnCpuMs)));
  console.log(
    `\nGoal: ${OURS.filter((m) => modes.includes(m)).join(', ')} never hold the loop > 20 ms: worst wall gap ${fmt(worst, 1)} ms, worst turn ${fmt(worstCpu, 1)} ms of CPU -> ${worst <= 20 ? 'met' : worstCpu <= 20 ? 'met in CPU per turn (the wall gaps include time the cores ran other processes)' : 'NOT met'}`,
  );
}

await smtp.close?.();
nm.close();
await Promise.all([ses.close?.(), sendgrid.close?.()]);
fakes.stdin.end();
await fakesExited;
await sink.close();

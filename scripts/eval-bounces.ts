/**
 * Measures the bounce and complaint parsers against a labelled corpus:
 *
 *     npm run eval:bounces -- [dir] [--misses] [--json]
 *
 * `dir` (default ../shared/corpus/bounces) holds the mails and a labels.json (Sisimai's
 * expectations, see its README). Prints the agreement per field (recipient, status, hard/soft,
 * reason, action) overall and per mail system, then every miss (all of them with --misses,
 * else the first 60). Sisimai's reason names are mapped onto mailpush's categories here rather
 * than added to them (mesgtoobig and exceedlimit are emailtoolarge, speeding and toomanyconn
 * are ratelimited, mailererror is systemerror, notcompliantrfc is contenterror).
 *
 * Not a test: the corpus is not part of the repository.
 */

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseComplaint } from '../src/feedback/arf.js';
import { parseBounce } from '../src/feedback/dsn.js';
import type { BouncedRecipient, BounceResult } from '../src/feedback/types.js';

interface Expected {
  readonly recipient: string | null;
  readonly status: string | null;
  readonly action: string | null;
  readonly reason: string;
  readonly hard: boolean | null;
  readonly replycode: string | null;
  readonly feedbackType: string | null;
}

interface Label {
  readonly file: string;
  readonly mta: string | null;
  readonly kind: string;
  readonly expected: readonly Expected[] | null;
}

const FIELDS = ['recipient', 'status', 'hard', 'reason', 'action'] as const;
type Field = (typeof FIELDS)[number];

const REASON_MAP: Readonly<Record<string, string>> = {
  mesgtoobig: 'emailtoolarge',
  exceedlimit: 'emailtoolarge',
  speeding: 'ratelimited',
  toomanyconn: 'ratelimited',
  mailererror: 'systemerror',
  notcompliantrfc: 'contenterror',
};

const args = process.argv.slice(2);
const dir = resolve(args.find((a) => !a.startsWith('--')) ?? '../shared/corpus/bounces');
const showAll = args.includes('--misses');
const labels = JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8')) as Label[];

class Tally {
  readonly hit: Record<Field, number> = { recipient: 0, status: 0, hard: 0, reason: 0, action: 0 };
  readonly total: Record<Field, number> = { recipient: 0, status: 0, hard: 0, reason: 0, action: 0 };
  add(field: Field, ok: boolean): void {
    this.total[field]++;
    if (ok) this.hit[field]++;
  }
}

const overall = new Tally();
const perMta = new Map<string, Tally>();
const misses: string[] = [];
const other = { complaintOk: 0, complaintTotal: 0, autoreplyOk: 0, autoreplyTotal: 0, notBounceOk: 0, notBounceTotal: 0, extraRecipients: 0 };

function mapReason(reason: string): string {
  return REASON_MAP[reason] ?? reason;
}

function statusAgrees(expected: string | null, got: string | undefined): boolean {
  if (expected === null) return got === undefined;
  // Made-up Sisimai codes (X.0.9NN): the class, or no code at all.
  if (/^[245]\.0\.9\d\d$/.test(expected)) return got === undefined || got[0] === expected[0];
  return got === expected;
}

function find(result: BounceResult, address: string): BouncedRecipient | undefined {
  const a = address.toLowerCase();
  return result.recipients.find((r) => r.address.toLowerCase() === a || r.originalRecipient?.toLowerCase() === a);
}

for (const label of labels) {
  let raw: Buffer;
  try {
    raw = readFileSync(join(dir, label.file));
  } catch {
    misses.push(`${label.file}: cannot read`);
    continue;
  }
  const result = parseBounce(raw);
  const mtaName = label.mta ?? '(none)';
  const tally = perMta.get(mtaName) ?? new Tally();
  perMta.set(mtaName, tally);

  if (label.expected === null || label.expected.length === 0) {
    other.notBounceTotal++;
    const ok = result.kind === 'not-bounce' && parseComplaint(raw) === undefined;
    if (ok) other.notBounceOk++;
    else misses.push(`${label.file}: expected not a bounce, got ${result.kind}`);
    continue;
  }

  for (const exp of label.expected) {
    if (exp.reason === 'feedback') {
      other.complaintTotal++;
      const c = parseComplaint(raw);
      const recipientOk = (c?.originalRcptTo?.toLowerCase() ?? null) === (exp.recipient?.toLowerCase() ?? null);
      const typeOk = c?.feedbackType === exp.feedbackType;
      const notBounce = result.kind === 'not-bounce';
      if (recipientOk && typeOk && notBounce) other.complaintOk++;
      else misses.push(`${label.file} [complaint]: expected ${exp.recipient} ${exp.feedbackType}, got ${c?.originalRcptTo} ${c?.feedbackType} (bounce kind ${result.kind})`);
      continue;
    }
    if (exp.reason === 'vacation') {
      other.autoreplyTotal++;
      const ok = result.kind === 'autoreply' && result.recipients.length === 0 && (exp.recipient === null || result.from?.toLowerCase() === exp.recipient.toLowerCase());
      if (ok) other.autoreplyOk++;
      else misses.push(`${label.file} [autoreply]: expected autoreply from ${exp.recipient}, got ${result.kind} from ${result.from}`);
      continue;
    }

    const got = exp.recipient === null ? result.recipients[0] : find(result, exp.recipient);
    const checks: Record<Field, boolean> = {
      recipient: got !== undefined,
      status: got !== undefined && statusAgrees(exp.status, got.status),
      hard: got !== undefined && got.hard === exp.hard,
      reason: got !== undefined && mapReason(got.reason) === mapReason(exp.reason),
      action: got !== undefined && got.action === exp.action,
    };
    for (const f of FIELDS) {
      overall.add(f, checks[f]);
      tally.add(f, checks[f]);
    }
    const bad = FIELDS.filter((f) => !checks[f]);
    if (bad.length > 0) {
      const shown = got
        ? `got ${got.address} ${got.status ?? '-'} ${got.action} ${got.reason} hard=${got.hard} code=${got.replyCode ?? '-'} | ${(got.diagnosticText ?? '').slice(0, 140)}`
        : `got ${result.kind} with [${result.recipients.map((r) => r.address).join(', ')}]`;
      misses.push(`${label.file} [${label.mta}] ${bad.join(',')}: expected ${exp.recipient} ${exp.status} ${exp.action} ${exp.reason} hard=${exp.hard}; ${shown}`);
    }
  }
  const expectedSet = new Set(label.expected.map((e) => e.recipient?.toLowerCase()));
  const extras = result.recipients.filter((r) => !expectedSet.has(r.address.toLowerCase()) && !expectedSet.has(r.originalRecipient?.toLowerCase()));
  other.extraRecipients += extras.length;
  if (extras.length > 0 && !expectedSet.has(null as unknown as string)) misses.push(`${label.file} [${label.mta}] extra recipients: ${extras.map((r) => r.address).join(', ')}`);
}

const pct = (hit: number, total: number): string => (total === 0 ? '   -  ' : `${((100 * hit) / total).toFixed(1).padStart(5)}%`);
const row = (name: string, t: Tally): string =>
  `${name.padEnd(18)} ${String(t.total.recipient).padStart(4)}  ` + FIELDS.map((f) => pct(t.hit[f], t.total[f]).padStart(10)).join('');

console.log(`Corpus: ${dir} (${labels.length} files)\n`);
console.log(`${'bounces'.padEnd(18)} ${'n'.padStart(4)}  ` + FIELDS.map((f) => f.padStart(10)).join(''));
console.log(row('overall', overall));
console.log('targets                   ' + ['98%', '95%', '95%', '85%', '-'].map((s) => s.padStart(10)).join(''));
console.log('');
for (const [mta, t] of [...perMta.entries()].sort((a, b) => b[1].total.recipient - a[1].total.recipient || a[0].localeCompare(b[0]))) {
  if (t.total.recipient > 0) console.log(row(mta, t));
}
console.log('');
console.log(`complaints (recipient + feedback type): ${other.complaintOk}/${other.complaintTotal}`);
console.log(`auto-replies (kind + sender):           ${other.autoreplyOk}/${other.autoreplyTotal}`);
console.log(`not bounces:                            ${other.notBounceOk}/${other.notBounceTotal}`);
console.log(`extra recipients reported:              ${other.extraRecipients}`);
console.log(`\nMisses (${misses.length}):`);
for (const m of showAll ? misses : misses.slice(0, 60)) console.log(`  ${m}`);
if (!showAll && misses.length > 60) console.log(`  ... ${misses.length - 60} more (--misses shows all)`);

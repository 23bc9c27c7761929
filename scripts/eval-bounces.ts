/**
 * Measures the bounce and complaint parsers against a labelled corpus:
 *
 *     npm run eval:bounces -- [dir] [--misses] [--verbose]
 *
 * `dir` (default ../shared/corpus/bounces) holds the mails and a labels.json (Sisimai's
 * expectations, see its README). Prints the agreement per field (recipient, status, hard/soft,
 * reason, action) for the tuning part, the held-out part and the whole, then per mail system,
 * a per-reason confusion matrix for each part, then every miss (all of them with --misses,
 * else the first 60) with the rule that decided (`decidedBy`). `--verbose` lists every
 * recipient with its decision. Misses and verbose lines of the held-out part are only counted,
 * not shown (their texts must not guide the rules), unless `--show-held-out` is given.
 *
 * Held-out split: the corpus is split by mail system (the file's family, `lhost-postfix`,
 * `rhost-franceptt`, ...; CRLF copies stay with their original), with FNV-1a(family) % 3 === 0
 * held out: about a quarter of the recipients, a third of the families. Rules are tuned on the
 * tuning part only; the held-out part shows whether a change generalises to mail systems the
 * rules were not written against. The reference's older names are mapped onto the newer ones
 * that mailpush's categories use (mesgtoobig and exceedlimit are emailtoolarge, speeding and
 * toomanyconn are ratelimited); every other reason name is compared as it is.
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
};

const args = process.argv.slice(2);
const dir = resolve(args.find((a) => !a.startsWith('--')) ?? '../shared/corpus/bounces');
const showAll = args.includes('--misses');
const verbose = args.includes('--verbose');
const showHeldOut = args.includes('--show-held-out');
let hiddenMisses = 0;

/** The mail-system family of a corpus file: `lhost-postfix-03-crlf.eml` -> `lhost-postfix`. */
function family(file: string): string {
  return file.replace(/-\d+(?:-crlf)?\.eml$/, '').replace(/\.eml$/, '');
}

/** FNV-1a, 32 bits: a fixed, platform-independent hash for the split. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Whether a file belongs to the held-out part (never tuned on). */
function heldOut(file: string): boolean {
  return fnv1a(family(file)) % 3 === 0;
}
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
const parts = { tuning: new Tally(), 'held-out': new Tally() };
type Part = keyof typeof parts;
/** Confusion counts per part: expected reason -> got reason -> count. */
const confusion: Record<Part, Map<string, Map<string, number>>> = { tuning: new Map(), 'held-out': new Map() };
const perMta = new Map<string, Tally>();
const verboseLines: string[] = [];

function describeDecision(r: BouncedRecipient): string {
  const d = r.decidedBy;
  if (d === undefined) return '';
  return ` [${d.rule}${d.family !== undefined && d.family !== r.reason ? ` ${d.family}` : ''}${d.matched !== undefined ? ` "${d.matched}"` : ''}${d.overrode !== undefined ? ` over ${d.overrode}` : ''}]`;
}
/** Decisions where the reference's own wording overrode mailpush's wider wording of an earlier family, by part. */
const overrides: Record<Part, number> = { tuning: 0, 'held-out': 0 };
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
  const part: Part = heldOut(label.file) ? 'held-out' : 'tuning';
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
      parts[part].add(f, checks[f]);
      tally.add(f, checks[f]);
    }
    if (got?.decidedBy?.overrode !== undefined) overrides[part]++;
    const expReason = mapReason(exp.reason);
    const gotReason = got === undefined ? '(none)' : mapReason(got.reason);
    const row = confusion[part].get(expReason) ?? new Map<string, number>();
    confusion[part].set(expReason, row);
    row.set(gotReason, (row.get(gotReason) ?? 0) + 1);
    if (verbose && (part === 'tuning' || showHeldOut)) {
      verboseLines.push(
        `${checks.reason ? 'ok  ' : 'MISS'} ${part === 'held-out' ? 'H' : 'T'} ${label.file} ${exp.recipient} expected ${exp.reason}; ` +
          (got ? `got ${got.reason} hard=${got.hard}${describeDecision(got)}` : 'not found'),
      );
    }
    const bad = FIELDS.filter((f) => !checks[f]);
    if (bad.length > 0 && part === 'held-out' && !showHeldOut) hiddenMisses++;
    else if (bad.length > 0) {
      const shown = got
        ? `got ${got.address} ${got.status ?? '-'} ${got.action} ${got.reason} hard=${got.hard} code=${got.replyCode ?? '-'}${describeDecision(got)} | ${(got.diagnosticText ?? '').slice(0, 140)}`
        : `got ${result.kind} with [${result.recipients.map((r) => r.address).join(', ')}]`;
      misses.push(`${label.file} [${label.mta}]${part === 'held-out' ? ' (held-out)' : ''} ${bad.join(',')}: expected ${exp.recipient} ${exp.status} ${exp.action} ${exp.reason} hard=${exp.hard}; ${shown}`);
    }
  }
  const expectedSet = new Set(label.expected.map((e) => e.recipient?.toLowerCase()));
  const extras = result.recipients.filter((r) => !expectedSet.has(r.address.toLowerCase()) && !expectedSet.has(r.originalRecipient?.toLowerCase()));
  other.extraRecipients += extras.length;
  if (extras.length > 0 && !expectedSet.has(null as unknown as string) && heldOut(label.file) && !showHeldOut) hiddenMisses++;
  else if (extras.length > 0 && !expectedSet.has(null as unknown as string)) misses.push(`${label.file} [${label.mta}] extra recipients: ${extras.map((r) => r.address).join(', ')}`);
}

const pct = (hit: number, total: number): string => (total === 0 ? '   -  ' : `${((100 * hit) / total).toFixed(1).padStart(5)}%`);
const row = (name: string, t: Tally): string =>
  `${name.padEnd(18)} ${String(t.total.recipient).padStart(4)}  ` + FIELDS.map((f) => pct(t.hit[f], t.total[f]).padStart(10)).join('');

console.log(`Corpus: ${dir} (${labels.length} files)\n`);
console.log(`${'bounces'.padEnd(18)} ${'n'.padStart(4)}  ` + FIELDS.map((f) => f.padStart(10)).join(''));
console.log(row('tuning', parts.tuning));
console.log(row('held-out', parts['held-out']));
console.log(row('whole', overall));
console.log('targets                   ' + ['98%', '97%', '95%', '85%', '-'].map((s) => s.padStart(10)).join(''));
console.log('');
for (const [mta, t] of [...perMta.entries()].sort((a, b) => b[1].total.recipient - a[1].total.recipient || a[0].localeCompare(b[0]))) {
  if (t.total.recipient > 0) console.log(row(mta, t));
}
console.log('');
for (const p of ['tuning', 'held-out'] as const) {
  console.log(`Reason confusion, ${p} part (expected -> got; mailpush names):`);
  const rows = [...confusion[p].entries()].sort((a, b) => a[0].localeCompare(b[0]));
  for (const [exp, gots] of rows) {
    const n = [...gots.values()].reduce((a, b) => a + b, 0);
    const ok = gots.get(exp) ?? 0;
    const wrong = [...gots.entries()].filter(([g]) => g !== exp).sort((a, b) => b[1] - a[1]).map(([g, c]) => `${g} ${c}`);
    console.log(`  ${exp.padEnd(16)} ${String(ok).padStart(3)}/${String(n).padEnd(3)} ${wrong.length > 0 ? '-> ' + wrong.join(', ') : ''}`);
  }
  console.log('');
}
console.log(`complaints (recipient + feedback type): ${other.complaintOk}/${other.complaintTotal}`);
console.log(`auto-replies (kind + sender):           ${other.autoreplyOk}/${other.autoreplyTotal}`);
console.log(`not bounces:                            ${other.notBounceOk}/${other.notBounceTotal}`);
console.log(`extra recipients reported:              ${other.extraRecipients}`);
console.log(`reference wording over wider wording:   ${overrides.tuning} tuning, ${overrides['held-out']} held-out (decidedBy.overrode)`);
if (verbose) {
  console.log('\nEvery recipient (T tuning, H held-out; [rule family "matched"]):');
  for (const l of verboseLines) console.log(`  ${l}`);
}
console.log(`\nMisses (${misses.length} shown${hiddenMisses > 0 ? `, ${hiddenMisses} of the held-out part hidden (--show-held-out shows them)` : ''}):`);
for (const m of showAll ? misses : misses.slice(0, 60)) console.log(`  ${m}`);
if (!showAll && misses.length > 60) console.log(`  ... ${misses.length - 60} more (--misses shows all)`);

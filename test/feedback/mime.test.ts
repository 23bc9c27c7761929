import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { htmlToText, readInput, readInputYielding } from '../../src/feedback/mime.js';
import { countTurns } from '../helpers/turns.js';

/** A DSN returning an original with a base64 attachment of about `mb` MB, CRLF line ends. */
function bigBounce(mb: number): string {
  const attachment = randomBytes(Math.round(mb * 1024 * 1024 * 0.74))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return [
    'From: MAILER-DAEMON@mx.example.net',
    'Subject: Undelivered Mail Returned to Sender',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
    '',
    '--B1',
    'Content-Type: message/delivery-status',
    '',
    'Final-Recipient: rfc822; ann@example.org',
    'Action: failed',
    'Status: 5.1.1',
    '',
    '--B1',
    'Content-Type: message/rfc822',
    '',
    'Content-Type: multipart/mixed; boundary="B2"',
    '',
    '--B2',
    'Content-Type: application/pdf',
    'Content-Transfer-Encoding: base64',
    '',
    attachment,
    '--B2--',
    '--B1--',
    '',
  ].join('\r\n');
}

describe('readInputYielding', () => {
  it('gives the text readInput gives, for strings and bytes, small and skimmed', async () => {
    const big = bigBounce(3);
    // Runs of CRs across the 64 KiB chunk limits, bare CRs, a line longer than a chunk, UTF-8 and invalid UTF-8.
    const crs = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(i % 97)}${'\r'.repeat(i % 4)}${i % 3 === 0 ? '' : '\n'}`).join('');
    const long = `Subject: a\r\n\r\n${'y'.repeat(200_000)}\r\r\nend\r`;
    const inputs: (string | Uint8Array)[] = [
      'Subject: hi\r\n\r\nbody\r\n',
      'Subject: hi\n\nno carriage returns\n',
      crs,
      long,
      big,
      Buffer.from(big),
      Buffer.from(`Subject: é\r\n\r\n${'ü'.repeat(100_000)}\r\n`),
      Buffer.concat([Buffer.from('Subject: x\r\n\r\n'), Buffer.from([0xff, 0xfe, 0x0d, 0x0a, 0xe9])]),
    ];
    for (const input of inputs) {
      for (const max of [1024, 2 * 1024 * 1024]) {
        expect(await readInputYielding(input, max)).toBe(readInput(input, max));
      }
    }
  });

  it('gives the host a turn of the event loop during the read of a large mail', async () => {
    const big = Buffer.from(bigBounce(10));
    const counter = countTurns();
    const text = await readInputYielding(big, 2 * 1024 * 1024);
    counter.stop();
    expect(text).toBe(readInput(big, 2 * 1024 * 1024));
    // The whole read in one turn gives none; in pieces (a yield after each ms of work), several.
    expect(counter.turns).toBeGreaterThanOrEqual(2);
  });
});

describe('htmlToText: mailto links', () => {
  it('a link whose text is a name keeps its address after the name; a link whose text is the address stays as it is', () => {
    const html = '<p><a href="mailto:wes@dest.example?subject=x" class="l">Wes N</a><br><a href=\'mailto:ann@b.example\'>ann@b.example</a></p>';
    expect(htmlToText(html).trim().split('\n')).toEqual(['Wes N <wes@dest.example>', 'ann@b.example']);
  });

  it('stays linear on hostile links (unclosed, long addresses and queries, no closing tag)', () => {
    const hostile = [
      ('<a href="mailto:' + 'a'.repeat(330) + 'b'.repeat(600)).repeat(600),
      ('<a href="mailto:ann@b.example?subject=' + 'q'.repeat(499) + '" title="' + 't'.repeat(400)).repeat(500),
    ];
    for (const h of hostile) {
      const t = performance.now();
      htmlToText(h);
      // Linear: ~50-150 ms for these 0.5 MB on a loaded machine; the first, backtracking form of the
      // pattern took 3 s on the first one.
      expect(performance.now() - t).toBeLessThan(1000);
    }
  });
});

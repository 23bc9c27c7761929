import { describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import type { MailError } from '../../src/errors.js';
import { domainOf, normalizeDomain, parseAddress, parseAddressList } from '../../src/message/address.js';
import type { AddressInput } from '../../src/types.js';

/** Runs `fn`, expects a MailError and returns it. */
function catchMailError(fn: () => unknown): MailError {
  try {
    fn();
  } catch (err) {
    expect(isMailError(err), `expected a MailError, got ${String(err)}`).toBe(true);
    return err as MailError;
  }
  throw new Error('expected a MailError to be thrown, nothing was thrown');
}

describe('parseAddress: accepted forms', () => {
  it.each<[string, AddressInput, { address: string; name?: string }]>([
    ['a bare address', 'a@b.com', { address: 'a@b.com' }],
    ['a name-addr', 'Ann Example <ann@example.com>', { address: 'ann@example.com', name: 'Ann Example' }],
    ['a name-addr without a space before <', 'Ann<ann@example.com>', { address: 'ann@example.com', name: 'Ann' }],
    ['an angle-addr without a name', '<ann@example.com>', { address: 'ann@example.com' }],
    ['a quoted name with a comma', '"Doe, John" <j@example.com>', { address: 'j@example.com', name: 'Doe, John' }],
    ['a quoted name with escapes', '"Ann \\"The Boss\\" \\\\ X" <a@example.com>', { address: 'a@example.com', name: 'Ann "The Boss" \\ X' }],
    ['an empty quoted name', '"" <a@example.com>', { address: 'a@example.com' }],
    ['a unicode display name', 'Jürgen Müller 🎉 <j@example.de>', { address: 'j@example.de', name: 'Jürgen Müller 🎉' }],
    ['a display name that is an address', 'support@example.com <support@example.com>', { address: 'support@example.com', name: 'support@example.com' }],
    ['surrounding spaces', '   Ann   <a@example.com>   ', { address: 'a@example.com', name: 'Ann' }],
    ['an object', { address: 'a@example.com', name: 'Ann' }, { address: 'a@example.com', name: 'Ann' }],
    ['an object without a name', { address: 'a@example.com' }, { address: 'a@example.com' }],
    ['an object with spaces around the address', { address: '  a@example.com ', name: '  Ann  ' }, { address: 'a@example.com', name: 'Ann' }],
    ['every atext character', "!#$%&'*+-/=?^_`{|}~@example.com", { address: "!#$%&'*+-/=?^_`{|}~@example.com" }],
    ['a dotted local part', 'first.middle.last@example.com', { address: 'first.middle.last@example.com' }],
    ['a quoted local part with a space', '"john doe"@example.com', { address: '"john doe"@example.com' }],
    ['a quoted local part with an @ and escapes', '"a@b\\"c"@example.com', { address: '"a@b\\"c"@example.com' }],
    ['a subdomain with digits and hyphens', 'a@mx-1.mail2.example.co.uk', { address: 'a@mx-1.mail2.example.co.uk' }],
    ['a single-label domain', 'root@localhost', { address: 'root@localhost' }],
  ])('accepts %s', (_, input, expected) => {
    expect(parseAddress(input, 'to')).toEqual(expected);
  });

  it.each([
    ['upper case domain', 'John.Doe@EXAMPLE.Com', 'John.Doe@example.com'],
    ['a trailing dot', 'a@example.com.', 'a@example.com'],
    ['an IDN domain', 'a@bücher.de', 'a@xn--bcher-kva.de'],
    ['an upper case IDN domain', 'a@BÜCHER.DE', 'a@xn--bcher-kva.de'],
    ['an IDN domain with a trailing dot', 'Ann <a@bücher.de.>', 'a@xn--bcher-kva.de'],
    ['an A-label domain', 'a@XN--BCHER-KVA.de', 'a@xn--bcher-kva.de'],
    ['an emoji domain', 'a@💩.la', 'a@xn--ls8h.la'],
    ['a full-width domain (UTS #46 mapping)', 'a@ｅｘａｍｐｌｅ。com', 'a@example.com'],
    ['a quoted local part that is a plain dot-atom', '"john.doe"@example.com', 'john.doe@example.com'],
  ])('normalizes %s', (_, input, address) => {
    expect(parseAddress(input, 'to').address).toBe(address);
  });

  it('keeps the case of the local part, which may be significant', () => {
    expect(parseAddress('John@example.com', 'to').address).toBe('John@example.com');
  });

  it('returns a frozen object that is not the input object', () => {
    const input = { address: 'a@example.com', name: 'Ann' };
    const out = parseAddress(input, 'to');
    expect(Object.isFrozen(out)).toBe(true);
    expect(out).not.toBe(input);
  });

  it('accepts the longest local part, label and address', () => {
    const local = 'l'.repeat(64);
    const label = 'd'.repeat(63);
    expect(parseAddress(`${local}@${label}.com`, 'to').address).toBe(`${local}@${label}.com`);
    // 64 + 1 + 189 = 254 octets.
    const domain = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(57)}.com`;
    expect(domain.length).toBe(189);
    expect(parseAddress(`${local}@${domain}`, 'to').address.length).toBe(254);
  });
});

describe('parseAddress: rejected input', () => {
  it.each<[string, string, RegExp]>([
    ['an empty string', '', /empty/],
    ['only spaces', '    ', /empty/],
    ['a missing @', 'ab.example.com', /no @/],
    ['an empty local part', '@example.com', /local part.*empty/],
    ['an empty domain', 'a@', /domain.*empty/],
    ['a space in the local part', 'a b@example.com', /space/],
    ['a space in the domain', 'a@exa mple.com', /space/],
    ['a leading dot', '.a@example.com', /starts with a dot/],
    ['a trailing dot in the local part', 'a.@example.com', /ends with a dot/],
    ['two dots in a row', 'a..b@example.com', /two dots/],
    ['an empty domain label', 'a@example..com', /empty label/],
    ['two trailing dots', 'a@example.com..', /empty label/],
    ['a label starting with a hyphen', 'a@-example.com', /hyphen/],
    ['a label ending with a hyphen', 'a@example-.com', /hyphen/],
    ['an underscore in the domain', 'a@ex_ample.com', /"_"/],
    ['a domain literal', 'a@[192.0.2.1]', /domain literals/],
    ['an IPv6 domain literal', 'a@[IPv6:2001:db8::1]', /domain literals/],
    ['a dotted IPv4 address', 'a@192.0.2.1', /IP address/],
    ['a list of addresses', 'a@b.com, c@d.com', /one address per array item/],
    ['a list with a semicolon', 'a@b.com; c@d.com', /one address per array item/],
    ['a list with names', 'Ann <a@b.com>, Bob <b@c.com>', /one address per array item|unbalanced/],
    ['an unquoted name with a comma', 'Doe, John <j@example.com>', /comma/],
    ['a group', 'undisclosed-recipients:;', /comma or semicolon/],
    ['an unclosed angle bracket', 'Ann <a@example.com', /unbalanced/],
    ['a closing bracket only', 'Ann a@example.com>', /unbalanced/],
    ['text after the address', 'Ann <a@example.com> x', /unbalanced/],
    ['nested brackets', '<<a@example.com>>', /unbalanced/],
    ['a quote in an unquoted name', 'Ann "x" <a@example.com>', /quote the whole name/],
    ['text between a quoted name and the address', '"Ann" Bob <a@example.com>', /expected <address>/],
    ['an unterminated quoted name', '"Ann <a@example.com>', /unterminated/],
    ['an unterminated quoted local part', '"ann@example.com', /unterminated|no @/],
    ['a quote inside a local part', 'a"b@example.com', /"\\""/],
    ['an unescaped quote in a quoted local part', '"a"b"@example.com', /unescaped quote/],
    ['angle brackets inside a quoted local part', '"a<b"@example.com', /unbalanced/],
    ['a UTF-8 local part', 'jürgen@example.de', /SMTPUTF8/],
    ['a UTF-8 quoted local part', '"jürgen"@example.de', /SMTPUTF8/],
    ['invalid punycode', 'a@xn--zz.de', /punycode/],
    ['an invalid IDN', 'a@xn--a.de', /punycode/],
    ['a percent sign that URL parsing would decode', 'a@a%41.com', /"%"/],
    ['a path that URL parsing would cut off', 'a@evil.com/x.good.com', /"\/"/],
    ['a local part over 64 octets', `${'l'.repeat(65)}@example.com`, /local part is longer than 64/],
    ['a label over 63 octets', `a@${'d'.repeat(64)}.com`, /label is longer than 63/],
    ['a domain over 253 octets', `a@${`${'d'.repeat(60)}.`.repeat(5)}com`, /longer than 253/],
    ['an address over 254 octets', `${'l'.repeat(64)}@${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(58)}.com`, /longer than 254/],
    ['a huge string', 'a'.repeat(10_000_000), /too long/],
  ])('rejects %s', (_, input, reason) => {
    const err = catchMailError(() => parseAddress(input, 'to[2]'));
    expect(err.code).toBe(MailErrorCode.INVALID_ADDRESS);
    expect(err.message).toContain('`to[2]`');
    expect(err.message).toMatch(reason);
  });

  it.each([
    ['CR LF Bcc in a bare address', 'a@example.com\r\nBcc: evil@example.net'],
    ['CR LF Bcc in a display name', 'Ann\r\nBcc: evil@example.net <a@example.com>'],
    ['CR LF in a quoted display name', '"Ann\r\nBcc: evil@example.net" <a@example.com>'],
    ['a lone LF at the end', 'a@example.com\n'],
    ['a lone CR at the start', '\ra@example.com'],
    ['NUL in the local part', 'a\u0000b@example.com'],
    ['NUL in the domain', 'a@exam\u0000ple.com'],
    ['a tab', 'a@example.com\t'],
    ['a tab in a name', 'Ann\tExample <a@example.com>'],
    ['DEL', 'Ann\u007f <a@example.com>'],
    ['a C1 control (NEL) in a name', 'Ann\u0085Bcc <a@example.com>'],
    ['CR LF in a quoted local part', '"a\r\nb"@example.com'],
  ])('rejects control characters: %s', (_, input) => {
    const err = catchMailError(() => parseAddress(input, 'from'));
    expect(err.code).toBe(MailErrorCode.INVALID_ADDRESS);
    expect(err.message).toContain('`from`');
    // The value is shown escaped: the message itself carries no control character.
    expect(err.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it('shows the offending value escaped and shortened in the message', () => {
    const err = catchMailError(() => parseAddress(`Ann\r\nBcc: evil@example.net <${'a'.repeat(300)}@example.com>`, 'cc[7]'));
    expect(err.message).toContain('`cc[7]`');
    expect(err.message).toContain('"Ann\\r\\nBcc: evil@example.net <aaaa');
    expect(err.message).toContain('..."');
    expect(err.message.length).toBeLessThan(300);
  });

  it.each<[string, AddressInput | unknown, RegExp]>([
    ['an object whose address carries a name', { address: 'Ann <a@example.com>' }, /bare address/],
    ['an object without an address', { name: 'Ann' }, /needs `address`/],
    ['an object with a number as address', { address: 42 }, /expected a string/],
    ['an object with a number as name', { address: 'a@example.com', name: 42 }, /expected a string/],
    ['an object with CR LF in the name', { address: 'a@example.com', name: 'Ann\r\nBcc: evil@example.net' }, /carriage return/],
    ['an object with CR LF in the address', { address: 'a@example.com\r\nBcc: evil@example.net' }, /carriage return/],
    ['an object with a huge name', { address: 'a@example.com', name: 'n'.repeat(1_000_000) }, /longer than 256/],
    ['an object with a long name', { address: 'a@example.com', name: 'n'.repeat(257) }, /longer than 256/],
    ['null', null, /expected a string or an \{ address, name \} object/],
    ['undefined', undefined, /expected a string/],
    ['a number', 42, /expected a string/],
    ['a symbol', Symbol('x'), /expected a string/],
    ['an array', ['a@example.com'], /exactly one address/],
  ])('rejects %s', (_, input, reason) => {
    const err = catchMailError(() => parseAddress(input as AddressInput, 'from'));
    expect(err.code).toBe(MailErrorCode.INVALID_ADDRESS);
    expect(err.message).toContain('from');
    expect(err.message).toMatch(reason);
  });

  it('turns a throwing getter into INVALID_ADDRESS with the cause kept', () => {
    const boom = new Error('boom');
    const input = {
      get address(): string {
        throw boom;
      },
    };
    const err = catchMailError(() => parseAddress(input, 'to[0]'));
    expect(err.code).toBe(MailErrorCode.INVALID_ADDRESS);
    expect(err.message).toContain('`to[0]`');
    expect(err.cause).toBe(boom);
  });

  it('rejects a proxy that throws on every access', () => {
    const input = new Proxy(
      {},
      {
        get() {
          throw new TypeError('trap');
        },
      },
    );
    expect(catchMailError(() => parseAddress(input as AddressInput, 'to')).code).toBe(MailErrorCode.INVALID_ADDRESS);
  });
});

describe('parseAddressList', () => {
  it('gives an empty list for undefined and null', () => {
    expect(parseAddressList(undefined, 'cc')).toEqual([]);
    expect(parseAddressList(null as unknown as undefined, 'cc')).toEqual([]);
  });

  it('wraps a single address in a list', () => {
    expect(parseAddressList('Ann <a@example.com>', 'to')).toEqual([{ address: 'a@example.com', name: 'Ann' }]);
  });

  it('parses every item of an array, in order, without de-duplicating', () => {
    expect(parseAddressList(['a@example.com', { address: 'b@example.com' }, 'a@EXAMPLE.com'], 'to').map((a) => a.address)).toEqual([
      'a@example.com',
      'b@example.com',
      'a@example.com',
    ]);
  });

  it('names the index of the invalid item', () => {
    const err = catchMailError(() => parseAddressList(['a@example.com', 'b@example.com', 'not an address'], 'bcc'));
    expect(err.code).toBe(MailErrorCode.INVALID_ADDRESS);
    expect(err.message).toContain('`bcc[2]`');
  });

  it('rejects nested lists and a comma-separated string item', () => {
    expect(catchMailError(() => parseAddressList([['a@example.com']] as unknown as string[], 'to')).message).toContain('`to[0]`');
    expect(catchMailError(() => parseAddressList(['a@b.com, c@d.com'], 'to')).message).toMatch(/one address per array item/);
  });

  it('returns a new array each time', () => {
    const input = ['a@example.com'];
    const out = parseAddressList(input, 'to');
    expect(out).not.toBe(input);
  });
});

describe('domainOf', () => {
  it('returns the part after the last @', () => {
    expect(domainOf('a@example.com')).toBe('example.com');
    expect(domainOf('"a@b"@example.com')).toBe('example.com');
  });

  it("returns '' when there is no @", () => {
    expect(domainOf('example.com')).toBe('');
  });
});

describe('normalizeDomain', () => {
  it('converts IDN to ASCII, lower-cases and drops a trailing dot', () => {
    expect(normalizeDomain('Bücher.DE.')).toBe('xn--bcher-kva.de');
    expect(normalizeDomain('Mail.Example.COM')).toBe('mail.example.com');
    expect(normalizeDomain('xn--bcher-kva.de')).toBe('xn--bcher-kva.de');
  });

  it.each([
    ['an empty string', ''],
    ['a lone dot', '.'],
    ['an empty label', 'a..b'],
    ['a space', 'a b.com'],
    ['a leading hyphen', '-a.com'],
    ['a trailing hyphen', 'a-.com'],
    ['invalid punycode', 'xn--zz.de'],
    ['an IPv4 address', '192.0.2.1'],
    ['a percent sign', 'a%41.com'],
    ['a slash', 'evil.com/x'],
    ['CR LF', 'exa\r\nmple.com'],
    ['a 64-octet label', `${'a'.repeat(64)}.com`],
    ['a huge unicode domain', 'ü'.repeat(2000)],
  ])('throws INVALID_ADDRESS for %s', (_, domain) => {
      const err = catchMailError(() => normalizeDomain(domain));
      expect(err.code).toBe(MailErrorCode.INVALID_ADDRESS);
      expect(err.message).toMatch(/^Invalid domain/);
  });

  it('throws INVALID_ADDRESS for a non-string', () => {
    expect(catchMailError(() => normalizeDomain(42 as unknown as string)).code).toBe(MailErrorCode.INVALID_ADDRESS);
  });
});

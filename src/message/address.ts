/**
 * Email address parsing and domain normalization.
 *
 * The parser is a hand-written linear scanner (no regular expression that can backtrack) and
 * accepts one address per input: `'a@b.com'`, `'Ann Example <a@b.com>'`,
 * `'"Doe, John" <a@b.com>'` or `{ address, name }`. Strings are never split into lists:
 * several addresses go into an array, one per item, so that `'a@b.com, c@d.com'` can never be
 * read as a single mailbox with a strange display name.
 *
 * What is accepted, and why:
 * - Local part: an RFC 5322 dot-atom, or a quoted string of printable ASCII (quotes are
 *   removed when the content is a plain dot-atom, `"john"@x.com` -> `john@x.com`).
 *   Non-ASCII local parts (SMTPUTF8, RFC 6531) are rejected: most relays and ESP APIs refuse
 *   them, and a clear error beats a bounce.
 * - Domain: a host name of letters, digits and hyphens (RFC 5321), or an internationalized
 *   name converted to ASCII with UTS #46 (`bücher.de` -> `xn--bcher-kva.de`); lower-cased, a
 *   trailing dot removed. Domain literals (`[192.0.2.1]`) and names that look like IPv4
 *   addresses are rejected.
 * - Lengths: local part <= 64 octets, address <= 254 octets, labels <= 63 and the domain <=
 *   253 octets, display names <= `MAX_DISPLAY_NAME_LENGTH` characters.
 * - No control characters anywhere, in addresses or display names: C0 (CR, LF, NUL, TAB...),
 *   DEL and C1.
 *
 * @module
 */

import { domainToASCII, domainToUnicode } from 'node:url';
import { MailError, MailErrorCode, describeValue } from '../errors.js';
import type { Address, AddressInput } from '../types.js';

/** Most octets in a local part (RFC 5321 section 4.5.3.1.1). */
export const MAX_LOCAL_PART_LENGTH = 64;
/** Most octets in an address `local@domain` (the RFC 5321 path limit of 256 minus the angle brackets). */
export const MAX_ADDRESS_LENGTH = 254;
/** Most octets in a domain name (RFC 1035, without the trailing dot). */
export const MAX_DOMAIN_LENGTH = 253;
/** Most characters in a display name. Longer names are refused rather than truncated. */
export const MAX_DISPLAY_NAME_LENGTH = 256;

const MAX_LABEL_LENGTH = 63;
// Upper bound of a well-formed address string (quoted name with escapes, brackets, spaces):
// anything longer is refused before it is scanned, so huge strings cost nothing.
const MAX_INPUT_LENGTH = 2 * MAX_DISPLAY_NAME_LENGTH + MAX_ADDRESS_LENGTH + 16;
// Unicode domains may shrink under UTS #46 mapping (soft hyphens vanish), so allow some slack.
const MAX_DOMAIN_INPUT_LENGTH = 1024;

const ATEXT = 1;
const LDH = 2;
/** Character classes of ASCII code points, indexed by char code. */
const CHAR_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  CHAR_CLASS[c] = (alnum || "!#$%&'*+-/=?^_`{|}~".includes(ch) ? ATEXT : 0) | (alnum || ch === '-' ? LDH : 0);
}

// C0 controls except TAB, DEL and C1 controls: never allowed in text that ends up in a header.
// A single character class: linear, no backtracking.
const TEXT_CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

/**
 * Index of the first control character in `text` that is not allowed in header text
 * (C0 controls except TAB, DEL, C1 controls), or -1.
 *
 * @internal
 */
export function findTextControl(text: string): number {
  return TEXT_CONTROL.test(text) ? text.search(TEXT_CONTROL) : -1;
}

/**
 * Describes the character at `index` for an error message: `a line feed (LF)`.
 *
 * @internal
 */
export function describeCharAt(text: string, index: number): string {
  const c = text.charCodeAt(index);
  if (c === 0x0d) return 'a carriage return (CR)';
  if (c === 0x0a) return 'a line feed (LF)';
  if (c === 0x00) return 'a NUL character';
  if (c === 0x09) return 'a tab';
  if (c === 0x20) return 'a space';
  if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return `a control character (U+${c.toString(16).toUpperCase().padStart(4, '0')})`;
  return `the character ${JSON.stringify(text[index])}`;
}

const UNESCAPED_BY_JSON = /[\u007f-\u009f\u2028\u2029]/g;

/**
 * Short printable form of a value for error messages: strings are shortened to 80
 * characters and quoted, with every control character escaped (JSON.stringify leaves DEL,
 * C1 controls and the Unicode line separators as they are).
 *
 * @internal
 */
export function showValue(value: unknown): string {
  if (typeof value !== 'string') return describeValue(value);
  return describeValue(value).replace(UNESCAPED_BY_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function invalidAddress(field: string, value: unknown, reason: string): MailError {
  return new MailError(`Invalid address in \`${field}\` (${showValue(value)}): ${reason}`, {
    code: MailErrorCode.INVALID_ADDRESS,
  });
}

/** Why a domain was refused; a value rather than an exception so callers add their context. */
class DomainProblem {
  constructor(readonly reason: string) {}
}

// Unicode domains are rare but, in bulk sends, repeat: remember a bounded number of results
// because domainToASCII costs about a microsecond.
const idnCache = new Map<string, string | DomainProblem>();
const IDN_CACHE_SIZE = 512;

/** Validates an ASCII domain that is already lower case. */
function checkAsciiDomain(domain: string): string | DomainProblem {
  const length = domain.length;
  if (length === 0) return new DomainProblem('the domain is empty');
  if (length > MAX_DOMAIN_LENGTH) return new DomainProblem(`the domain is longer than ${MAX_DOMAIN_LENGTH} octets`);
  let labelStart = 0;
  let numericLabel = true;
  for (let i = 0; i <= length; i++) {
    const c = i < length ? domain.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      const labelLength = i - labelStart;
      if (labelLength === 0) return new DomainProblem('the domain has an empty label');
      if (labelLength > MAX_LABEL_LENGTH) return new DomainProblem(`a domain label is longer than ${MAX_LABEL_LENGTH} octets`);
      if (domain.charCodeAt(labelStart) === 0x2d || domain.charCodeAt(i - 1) === 0x2d) {
        return new DomainProblem('a domain label starts or ends with a hyphen');
      }
      // "xn--" labels are A-labels: check that they decode, or a garbage label would pass.
      // Node 20 maps an invalid one to '', Node 24 hands it back undecoded: refuse both.
      if (labelLength > 4 && domain.startsWith('xn--', labelStart) && !isValidALabel(domain.slice(labelStart, i))) {
        return new DomainProblem('a domain label is not valid punycode');
      }
      if (i === length && numericLabel) {
        return new DomainProblem('the domain looks like an IP address (domain literals are not supported)');
      }
      labelStart = i + 1;
      numericLabel = true;
    } else if (c < 128 && (CHAR_CLASS[c]! & LDH) !== 0) {
      if (c < 0x30 || c > 0x39) numericLabel = false;
    } else {
      return new DomainProblem(`the domain contains ${describeCharAt(domain, i)}`);
    }
  }
  return domain;
}

/** Returns the ASCII (A-label), lower-case form of a domain, or the reason it is invalid. */
function toAsciiDomain(input: string): string | DomainProblem {
  let domain = input;
  if (domain.length > MAX_DOMAIN_INPUT_LENGTH) return new DomainProblem(`the domain is longer than ${MAX_DOMAIN_LENGTH} octets`);
  // One trailing dot is the DNS root; more is an empty label.
  if (domain.length > 1 && domain.charCodeAt(domain.length - 1) === 0x2e) domain = domain.slice(0, -1);
  let ascii = true;
  for (let i = 0; i < domain.length; i++) {
    const c = domain.charCodeAt(i);
    if (c >= 128) {
      ascii = false;
    } else if ((CHAR_CLASS[c]! & LDH) === 0 && c !== 0x2e) {
      // Checked before domainToASCII ever sees the string: the WHATWG host parser
      // percent-decodes and stops at '/', so 'a%41.com' or 'evil.com/x' would otherwise pass.
      return new DomainProblem(`the domain contains ${describeCharAt(domain, i)}`);
    }
  }
  if (ascii) return checkAsciiDomain(domain.toLowerCase());
  const cached = idnCache.get(domain);
  if (cached !== undefined) return cached;
  const converted = domainToASCII(domain);
  const result = converted === '' ? new DomainProblem('the domain is not a valid internationalized domain name') : checkAsciiDomain(converted);
  if (idnCache.size >= IDN_CACHE_SIZE) idnCache.clear();
  idnCache.set(domain, result);
  return result;
}

/**
 * Converts a domain to its ASCII (IDNA A-label), lower-case form and validates it as a mail
 * domain: `'Bücher.DE.'` -> `'xn--bcher-kva.de'`.
 *
 * @param domain - The domain, ASCII or Unicode.
 * @returns The normalized domain.
 * @throws MailError `INVALID_ADDRESS` when the domain is not a valid host name.
 */
export function normalizeDomain(domain: string): string {
  if (typeof domain !== 'string') throw invalidDomain(domain, 'expected a string');
  const result = toAsciiDomain(domain);
  if (typeof result !== 'string') throw invalidDomain(domain, result.reason);
  return result;
}

function invalidDomain(domain: unknown, reason: string): MailError {
  return new MailError(`Invalid domain ${showValue(domain)}: ${reason}`, { code: MailErrorCode.INVALID_ADDRESS });
}

/**
 * The domain of an address: the part after the last `@`, or `''` when there is none.
 * Does not validate or normalize; use on addresses from a normalized message.
 *
 * @example
 * ```ts
 * domainOf('ann@example.org'); // 'example.org'
 * ```
 */
export function domainOf(address: string): string {
  // A loop from the end, not lastIndexOf (a call into the runtime): this runs for every job.
  let at = address.length;
  while (--at >= 0 && address.charCodeAt(at) !== 0x40);
  return at < 0 ? '' : address.slice(at + 1);
}

/** True when `text[start, end)` is a dot-atom: atext runs separated by single dots. */
function isDotAtom(text: string, start: number, end: number): boolean {
  if (end <= start) return false;
  let previousDot = true;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (previousDot) return false;
      previousDot = true;
    } else if (c < 128 && (CHAR_CLASS[c]! & ATEXT) !== 0) {
      previousDot = false;
    } else {
      return false;
    }
  }
  return !previousDot;
}

const LIST_HINT = 'it contains a comma or semicolon outside quotes: give one address per array item, and quote display names that contain one ("Doe, John" <j@example.com>)';

/**
 * The common case in one pass: `text[start, end)` is a dot-atom local part and a lower-case
 * LDH domain that needs no change. Returns the address, or undefined to let
 * `parseAddrSpec` decide (and explain) everything else: upper case, trailing dots,
 * IDN and `xn--` labels, quoted local parts, errors.
 */
function fastAddrSpec(text: string, start: number, end: number): string | undefined {
  if (end - start > MAX_ADDRESS_LENGTH) return undefined;
  let i = start;
  let previousDot = true;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x40) break;
    if (c === 0x2e) {
      if (previousDot) return undefined;
      previousDot = true;
    } else if (c < 128 && (CHAR_CLASS[c]! & ATEXT) !== 0) {
      previousDot = false;
    } else {
      return undefined;
    }
  }
  // previousDot also covers an empty local part.
  if (previousDot || i === end || i - start > MAX_LOCAL_PART_LENGTH) return undefined;
  let labelStart = ++i;
  let numeric = true;
  for (; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      const n = i - labelStart;
      if (n === 0 || n > MAX_LABEL_LENGTH || text.charCodeAt(labelStart) === 0x2d || text.charCodeAt(i - 1) === 0x2d) return undefined;
      // '--' in positions 3-4 marks xn-- (A-labels) and reserved labels: the full check decides.
      if (n >= 4 && text.charCodeAt(labelStart + 2) === 0x2d && text.charCodeAt(labelStart + 3) === 0x2d) return undefined;
      if (i === end && numeric) return undefined;
      labelStart = i + 1;
      numeric = true;
    } else if ((c >= 0x61 && c <= 0x7a) || c === 0x2d) {
      numeric = false;
    } else if (c < 0x30 || c > 0x39) {
      return undefined;
    }
  }
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** Parses an addr-spec (`local@domain`, no display name, no angle brackets) and returns it normalized. */
function parseAddrSpec(spec: string, field: string, original: unknown): string {
  checkNoControl(spec, field, original);
  if (spec.includes('<') || spec.includes('>')) {
    // Refused even inside a quoted local part: nodemailer turns them into spaces, so the
    // header would name another mailbox than the envelope.
    throw invalidAddress(field, original, 'unbalanced angle brackets');
  }
  const length = spec.length;
  if (length === 0) throw invalidAddress(field, original, 'the address is empty');
  const quoted = spec.charCodeAt(0) === 0x22;
  if (!quoted && (spec.includes(',') || spec.includes(';'))) throw invalidAddress(field, original, LIST_HINT);
  const at = spec.lastIndexOf('@');
  if (at < 0) throw invalidAddress(field, original, 'the address has no @');
  if (at === 0) throw invalidAddress(field, original, 'the local part (before @) is empty');
  if (at === length - 1) throw invalidAddress(field, original, 'the domain (after @) is empty');

  let local: string;
  if (quoted) {
    if (at < 3 || spec.charCodeAt(at - 1) !== 0x22) {
      throw invalidAddress(field, original, at < 3 && spec.charCodeAt(at - 1) === 0x22 ? 'the local part is empty' : 'unterminated quoted local part');
    }
    let plain = true;
    for (let i = 1; i < at - 1; i++) {
      const c = spec.charCodeAt(i);
      if (c >= 128) throw invalidAddress(field, original, 'non-ASCII local parts (SMTPUTF8) are not supported');
      if (c === 0x5c) {
        plain = false;
        i++;
        if (i >= at - 1) throw invalidAddress(field, original, 'unterminated quoted local part');
        const escaped = spec.charCodeAt(i);
        if (escaped >= 128) throw invalidAddress(field, original, 'non-ASCII local parts (SMTPUTF8) are not supported');
      } else if (c === 0x22) {
        throw invalidAddress(field, original, 'unescaped quote inside the quoted local part');
      }
    }
    // RFC 5321 4.1.2: use the simplest form; "john"@x.com is john@x.com.
    local = plain && isDotAtom(spec, 1, at - 1) ? spec.slice(1, at - 1) : spec.slice(0, at);
  } else {
    let previousDot = true;
    for (let i = 0; i < at; i++) {
      const c = spec.charCodeAt(i);
      if (c === 0x2e) {
        if (previousDot) throw invalidAddress(field, original, i === 0 ? 'the local part starts with a dot' : 'the local part has two dots in a row');
        previousDot = true;
      } else if (c < 128 && (CHAR_CLASS[c]! & ATEXT) !== 0) {
        previousDot = false;
      } else if (c >= 128) {
        throw invalidAddress(field, original, 'non-ASCII local parts (SMTPUTF8) are not supported');
      } else {
        throw invalidAddress(field, original, `the local part contains ${describeCharAt(spec, i)}`);
      }
    }
    if (previousDot) throw invalidAddress(field, original, 'the local part ends with a dot');
    local = spec.slice(0, at);
  }
  if (local.length > MAX_LOCAL_PART_LENGTH) {
    throw invalidAddress(field, original, `the local part is longer than ${MAX_LOCAL_PART_LENGTH} octets`);
  }

  if (spec.charCodeAt(at + 1) === 0x5b) {
    throw invalidAddress(field, original, 'domain literals ([192.0.2.1]) are not supported');
  }
  const domain = toAsciiDomain(spec.slice(at + 1));
  if (typeof domain !== 'string') throw invalidAddress(field, original, domain.reason);
  const address = `${local}@${domain}`;
  if (address.length > MAX_ADDRESS_LENGTH) {
    throw invalidAddress(field, original, `the address is longer than ${MAX_ADDRESS_LENGTH} octets`);
  }
  return address;
}

/** Refuses every control character in an address string (TAB included). */
function checkNoControl(text: string, field: string, original: unknown): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) throw invalidAddress(field, original, `it contains ${describeCharAt(text, i)}`);
  }
}

function isSpace(c: number): boolean {
  return c === 0x20;
}

// Every control character, TAB included.
const NAME_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function checkName(name: string, field: string, original: unknown): string | undefined {
  if (NAME_CONTROL.test(name)) {
    throw invalidAddress(field, original, `the display name contains ${describeCharAt(name, name.search(NAME_CONTROL))}`);
  }
  const trimmed = name.trim();
  if (trimmed.length > MAX_DISPLAY_NAME_LENGTH) {
    throw invalidAddress(field, original, `the display name is longer than ${MAX_DISPLAY_NAME_LENGTH} characters`);
  }
  return trimmed === '' ? undefined : trimmed;
}

function makeAddress(address: string, name: string | undefined): Address {
  return Object.freeze(name === undefined ? { address } : { address, name });
}

// Characters an unquoted display name may not contain.
const UNQUOTED_NAME_SPECIALS = /[",;>\\]/;

function parseAddressString(input: string, field: string): Address {
  if (input.length > MAX_INPUT_LENGTH) {
    throw invalidAddress(field, input, `too long (${input.length} characters) to be an address`);
  }
  let start = 0;
  let end = input.length;
  while (start < end && isSpace(input.charCodeAt(start))) start++;
  while (end > start && isSpace(input.charCodeAt(end - 1))) end--;
  if (start === end) throw invalidAddress(field, input, 'the address is empty');

  if (input.charCodeAt(end - 1) !== 0x3e /* > */) {
    return makeAddress(fastAddrSpec(input, start, end) ?? parseAddrSpec(input.slice(start, end), field, input), undefined);
  }

  let lt: number;
  let name: string | undefined;
  if (input.charCodeAt(start) === 0x22 /* " */) {
    // Quoted display name: "..." with \-escapes, then optional spaces, then <addr-spec>.
    let value = '';
    let i = start + 1;
    let runStart = i;
    for (;;) {
      if (i >= end) throw invalidAddress(field, input, 'unterminated quoted display name');
      const c = input.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        if (i + 1 >= end) throw invalidAddress(field, input, 'unterminated quoted display name');
        value += input.slice(runStart, i);
        runStart = i + 1;
        i += 2;
      } else {
        i++;
      }
    }
    value += input.slice(runStart, i);
    lt = i + 1;
    while (lt < end && isSpace(input.charCodeAt(lt))) lt++;
    if (input.charCodeAt(lt) !== 0x3c /* < */) {
      throw invalidAddress(field, input, 'expected <address> after the quoted display name');
    }
    name = checkName(value, field, input);
  } else {
    lt = input.indexOf('<', start);
    if (lt < 0) throw invalidAddress(field, input, 'unbalanced angle brackets');
    const raw = input.slice(start, lt);
    if (UNQUOTED_NAME_SPECIALS.test(raw)) {
      for (let i = 0; i < raw.length; i++) {
        const c = raw.charCodeAt(i);
        if (c === 0x2c || c === 0x3b) throw invalidAddress(field, input, LIST_HINT);
        if (c === 0x22 || c === 0x3e || c === 0x5c) {
          throw invalidAddress(field, input, `the display name contains ${describeCharAt(raw, i)}; quote the whole name`);
        }
      }
    }
    name = checkName(raw, field, input);
  }
  const address = fastAddrSpec(input, lt + 1, end - 1) ?? parseAddrSpec(input.slice(lt + 1, end - 1), field, input);
  return makeAddress(address, name);
}

function parseAddressObject(input: object, field: string): Address {
  let addressValue: unknown;
  let nameValue: unknown;
  try {
    addressValue = (input as { address?: unknown }).address;
    nameValue = (input as { name?: unknown }).name;
  } catch (err) {
    throw new MailError(`Invalid address in \`${field}\`: reading the address object threw`, {
      code: MailErrorCode.INVALID_ADDRESS,
      cause: err,
    });
  }
  const addressField = `${field}.address`;
  if (typeof addressValue !== 'string') {
    throw invalidAddress(addressField, addressValue, 'expected a string (an { address, name } object needs `address`)');
  }
  if (addressValue.length > MAX_INPUT_LENGTH) {
    throw invalidAddress(addressField, addressValue, `too long (${addressValue.length} characters) to be an address`);
  }
  let address = fastAddrSpec(addressValue, 0, addressValue.length);
  if (address === undefined) {
    const spec = addressValue.trim();
    if (spec.includes('<') || spec.includes('>')) {
      throw invalidAddress(addressField, addressValue, 'expected a bare address (a@example.com); put the display name in `name`');
    }
    address = parseAddrSpec(spec, addressField, addressValue);
  }
  let name: string | undefined;
  if (nameValue !== undefined && nameValue !== null) {
    if (typeof nameValue !== 'string') throw invalidAddress(`${field}.name`, nameValue, 'expected a string');
    if (nameValue.length > MAX_INPUT_LENGTH) {
      throw invalidAddress(`${field}.name`, nameValue, `the display name is longer than ${MAX_DISPLAY_NAME_LENGTH} characters`);
    }
    name = checkName(nameValue, `${field}.name`, nameValue);
  }
  return makeAddress(address, name);
}

/**
 * Parses and normalizes one address. The result is frozen; its domain is ASCII and lower case.
 *
 * @param input - `'a@b.com'`, `'Ann <a@b.com>'`, `'"Doe, John" <a@b.com>'` or `{ address, name }`.
 * @param field - Name of the field for error messages, like `from` or `to[2]`.
 * @throws MailError `INVALID_ADDRESS` naming `field` and showing the value (shortened, with
 *   control characters escaped). A list of addresses (`'a@b.com, c@d.com'` or an array) is an error.
 *
 * @example
 * ```ts
 * parseAddress('Ann <ann@Bücher.de>', 'from') // { address: 'ann@xn--bcher-kva.de', name: 'Ann' }
 * ```
 */
export function parseAddress(input: AddressInput, field: string): Address {
  if (typeof input === 'string') return parseAddressString(input, field);
  if (Array.isArray(input)) {
    throw invalidAddress(field, input, 'expected exactly one address, got a list');
  }
  if (typeof input === 'object' && input !== null) return parseAddressObject(input, field);
  throw invalidAddress(field, input, 'expected a string or an { address, name } object');
}

/**
 * Parses an optional address or list of addresses. `undefined` and `null` give an empty list;
 * items of an array are reported as `field[i]`.
 *
 * @param input - One address, an array of addresses, or nothing.
 * @param field - Name of the field for error messages, like `to`.
 * @throws MailError `INVALID_ADDRESS` on the first invalid address.
 *
 * @example
 * ```ts
 * import { parseAddressList } from 'mailpush';
 *
 * parseAddressList(['Ann <ann@Example.com>', { address: 'bob@example.org' }], 'to');
 * // [{ address: 'ann@example.com', name: 'Ann' }, { address: 'bob@example.org' }]
 * parseAddressList(undefined, 'cc'); // []
 * ```
 */
export function parseAddressList(input: AddressInput | readonly AddressInput[] | undefined, field: string): Address[] {
  if (input === undefined || input === null) return [];
  if (!Array.isArray(input)) return [parseAddress(input as AddressInput, field)];
  const list = input as readonly unknown[];
  const out: Address[] = [];
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (Array.isArray(item)) throw invalidAddress(`${field}[${i}]`, item, 'nested lists are not allowed');
    out.push(parseAddress(item as AddressInput, `${field}[${i}]`));
  }
  return out;
}

/** True when an `xn--` label decodes to Unicode and encodes back to itself. */
function isValidALabel(label: string): boolean {
  const unicode = domainToUnicode(label);
  return unicode !== '' && !unicode.toLowerCase().startsWith('xn--') && domainToASCII(unicode) === label.toLowerCase();
}

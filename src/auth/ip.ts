/**
 * IP addresses as bytes, for SPF's `ip4`/`ip6`/`a`/`mx` mechanisms: parsing without
 * regular expressions that can backtrack, and CIDR matching.
 *
 * @module
 */

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

/**
 * Parses a dotted-quad IPv4 address: four decimal parts 0-255, no leading zeros (they read
 * as octal in some stacks, so a record that has them is ambiguous).
 */
export function parseIPv4(text: string): IpAddress | undefined {
  if (text.length < 7 || text.length > 15) return undefined;
  const bytes = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return undefined;
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return undefined;
      value = value * 10 + (c - 0x30);
      digits++;
      if (value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return part === 4 ? { family: 4, bytes } : undefined;
}

/** Parses an IPv6 address (RFC 4291 2.2 text forms, `::` compression and a trailing IPv4 part). */
export function parseIPv6(text: string): IpAddress | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const groups: number[] = [];
  let compressAt = -1;
  let i = 0;
  if (text.startsWith('::')) {
    compressAt = 0;
    i = 2;
    if (i === text.length) return { family: 6, bytes: new Uint8Array(16) };
  } else if (text.charCodeAt(0) === 0x3a) {
    return undefined;
  }
  while (i < text.length) {
    let end = i;
    while (end < text.length && text.charCodeAt(end) !== 0x3a) end++;
    const piece = text.slice(i, end);
    if (piece.includes('.')) {
      // An embedded IPv4 address may only be the last piece.
      if (end !== text.length) return undefined;
      const v4 = parseIPv4(piece);
      if (v4 === undefined) return undefined;
      groups.push((v4.bytes[0]! << 8) | v4.bytes[1]!, (v4.bytes[2]! << 8) | v4.bytes[3]!);
      i = end;
      break;
    }
    if (piece.length === 0 || piece.length > 4) return undefined;
    let value = 0;
    for (let k = 0; k < piece.length; k++) {
      const d = hexValue(piece.charCodeAt(k));
      if (d < 0) return undefined;
      value = value * 16 + d;
    }
    groups.push(value);
    if (end === text.length) {
      i = end;
      break;
    }
    // end points at ':'
    if (text.charCodeAt(end + 1) === 0x3a) {
      if (compressAt >= 0) return undefined;
      compressAt = groups.length;
      i = end + 2;
    } else {
      i = end + 1;
      if (i === text.length) return undefined;
    }
  }
  if (compressAt < 0 ? groups.length !== 8 : groups.length > 7) return undefined;
  const full = compressAt < 0 ? groups : [...groups.slice(0, compressAt), ...new Array<number>(8 - groups.length).fill(0), ...groups.slice(compressAt)];
  const bytes = new Uint8Array(16);
  full.forEach((g, k) => {
    bytes[2 * k] = g >> 8;
    bytes[2 * k + 1] = g & 0xff;
  });
  return { family: 6, bytes };
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Parses an IPv4 or IPv6 address. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is
 * returned as IPv4, as RFC 7208 section 5 asks of SPF checks.
 */
export function parseIp(text: string): IpAddress | undefined {
  const ip = text.includes(':') ? parseIPv6(text) : parseIPv4(text);
  if (ip?.family === 6 && isV4Mapped(ip.bytes)) return { family: 4, bytes: ip.bytes.slice(12) };
  return ip;
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let k = 0; k < 10; k++) if (bytes[k] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** True when `ip` is inside `network/prefixLength`. Different families never match. */
export function inCidr(ip: IpAddress, network: IpAddress, prefixLength: number): boolean {
  if (ip.family !== network.family) return false;
  let bits = prefixLength;
  for (let k = 0; bits > 0; k++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip.bytes[k]! & mask) !== (network.bytes[k]! & mask)) return false;
  }
  return true;
}

/** Text form of an address: dotted quad, or eight lower-case hex groups without compression. */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return Array.from(ip.bytes).join('.');
  const groups: string[] = [];
  for (let k = 0; k < 16; k += 2) groups.push(((ip.bytes[k]! << 8) | ip.bytes[k + 1]!).toString(16));
  return groups.join(':');
}

/**
 * The address as dot-separated labels for SPF's `%{i}` macro: `192.0.2.1`, or 32 hex
 * nibbles for IPv6 (`2.0.0.1.0.d.b.8...`, RFC 7208 section 7.3).
 */
export function ipMacroForm(ip: IpAddress): string {
  if (ip.family === 4) return formatIp(ip);
  const nibbles: string[] = [];
  for (const b of ip.bytes) nibbles.push((b >> 4).toString(16), (b & 0xf).toString(16));
  return nibbles.join('.');
}

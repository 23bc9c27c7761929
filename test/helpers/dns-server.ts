/**
 * A tiny authoritative DNS server over UDP on 127.0.0.1 for tests that must go through a real
 * resolver (`node:dns` Resolver with setServers): answers A, AAAA-less, MX and TXT from a zone
 * map, NXDOMAIN for names it does not know, NODATA for known names without the type.
 */

import { createSocket } from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';

/** Records of one name. */
export interface TestZoneRecords {
  readonly a?: readonly string[];
  readonly mx?: readonly { readonly priority: number; readonly exchange: string }[];
  readonly txt?: readonly string[];
}

/** A running test DNS server. */
export interface TestDnsServer {
  /** `127.0.0.1:<port>`, for `--dns-server` or `Resolver.setServers`. */
  readonly address: string;
  /** Names asked for, `name TYPE`, in order. */
  readonly queries: readonly string[];
  close(): Promise<void>;
}

const TYPES: Readonly<Record<number, string>> = { 1: 'A', 15: 'MX', 16: 'TXT', 28: 'AAAA' };

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (msg[i] !== 0) {
    const len = msg[i]!;
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return { name: labels.join('.').toLowerCase(), end: i + 1 };
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function rr(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // the name of the question
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt32BE(60, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function answers(records: TestZoneRecords, type: number): Buffer[] {
  if (type === 1) return (records.a ?? []).map((ip) => rr(1, Buffer.from(ip.split('.').map(Number))));
  if (type === 15) {
    return (records.mx ?? []).map((m) => {
      const pref = Buffer.alloc(2);
      pref.writeUInt16BE(m.priority, 0);
      return rr(15, Buffer.concat([pref, encodeName(m.exchange)]));
    });
  }
  if (type === 16) {
    return (records.txt ?? []).map((t) => {
      const chunks: Buffer[] = [];
      const bytes = Buffer.from(t, 'utf8');
      for (let i = 0; i < bytes.length || i === 0; i += 255) {
        const part = bytes.subarray(i, i + 255);
        chunks.push(Buffer.from([part.length]), part);
      }
      return rr(16, Buffer.concat(chunks));
    });
  }
  return [];
}

/** Starts the server on 127.0.0.1 and a free port. */
export async function startTestDnsServer(zones: Readonly<Record<string, TestZoneRecords>>): Promise<TestDnsServer> {
  const socket = createSocket('udp4');
  const queries: string[] = [];
  const known = new Map(Object.entries(zones).map(([k, v]) => [k.toLowerCase(), v]));
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    if (msg.length < 12) return;
    const { name, end } = readName(msg, 12);
    const type = msg.readUInt16BE(end);
    queries.push(`${name} ${TYPES[type] ?? type}`);
    const records = known.get(name);
    const list = records === undefined ? [] : answers(records, type);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    // QR, AA, RD copied, RA; RCODE 3 (NXDOMAIN) for unknown names.
    header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | (records === undefined ? 3 : 0), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(list.length, 6);
    socket.send(Buffer.concat([header, msg.subarray(12, end + 4), ...list]), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  return {
    address: `127.0.0.1:${port}`,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

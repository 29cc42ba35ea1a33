/**
 * IP and MAC addresses as libvirt reads and writes them: numeric IPv4 and
 * IPv6 only (no host names), IPv6 written in the compressed form the C
 * library's inet_ntop gives, MACs in lower case.
 *
 * @module
 */
import { type Codec, refine, trimmed } from '../binding.js';

/** An IP address as bytes, for the checks and arithmetic of network ranges. */
export interface IpAddr {
  /** IPv4 or IPv6. */
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: number[];
}

function parseV4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseV6(s: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (const [i, p] of parts.entries()) {
      if (p.includes('.')) {
        // An embedded IPv4 address may only end the address.
        const v4 = i === parts.length - 1 ? parseV4(p) : undefined;
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(Number.parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  let words: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return undefined;
    words = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    words = head;
  }
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

/** Parses a numeric IPv4 or IPv6 address; undefined when it is neither. */
export function parseIp(s: string): IpAddr | undefined {
  const v4 = parseV4(s);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = s.includes(':') ? parseV6(s) : undefined;
  return v6 ? { family: 6, bytes: v6 } : undefined;
}

/** Formats an address as inet_ntop does. */
export function formatIp(a: IpAddr): string {
  if (a.family === 4) return a.bytes.join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((a.bytes[i]! << 8) | a.bytes[i + 1]!);
  // The longest run of zero words (two or more; the first when tied) becomes '::'.
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      cur = cur.base === -1 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 };
      if (cur.len > best.len) best = { ...cur };
    } else cur = { base: -1, len: 0 };
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // IPv4-compatible and IPv4-mapped addresses end in dotted form.
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      out += a.bytes.slice(12).join('.');
      break;
    }
    out += words[i]!.toString(16);
  }
  if (best.base !== -1 && best.base + best.len === 8) out += ':';
  return out;
}

/** An IP address attribute: parsed, checked, written back canonically. */
export const ipCodec: Codec<string> = {
  parse(raw) {
    const s = refine(trimmed, (v) => (parseIp(v) ? undefined : `'${v}' is not an IP address`)).parse(raw);
    return formatIp(parseIp(s)!);
  },
  format: (s) => s,
};

/** The family of an address already accepted by `ipCodec`. */
export function ipFamily(s: string): 4 | 6 | undefined {
  return parseIp(s)?.family;
}

/** Prefix length of an IPv4 netmask, or undefined when its one bits are not contiguous. */
export function netmaskPrefix(mask: string): number | undefined {
  const a = parseIp(mask);
  if (!a) return undefined;
  let bits = 0;
  let seenZero = false;
  for (const b of a.bytes) {
    for (let i = 7; i >= 0; i--) {
      const one = (b >> i) & 1;
      if (one && seenZero) return undefined;
      if (one) bits++;
      else seenZero = true;
    }
  }
  return bits;
}

const MAC_RE = /^[0-9a-f]{1,2}(:[0-9a-f]{1,2}){5}$/i;

/** A MAC address: six hex bytes, written lower case with two digits each. */
export const macAddressCodec: Codec<string> = {
  parse(raw) {
    const s = refine(trimmed, (v) => (MAC_RE.test(v) ? undefined : `'${v}' is not a MAC address`)).parse(raw);
    return s
      .split(':')
      .map((p) => p.toLowerCase().padStart(2, '0'))
      .join(':');
  },
  format: (s) => s,
};

/** True for a group (multicast) MAC: the low bit of the first byte is set. */
export function isMulticastMac(mac: string): boolean {
  return (Number.parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

/**
 * libvirt's CPU/ID set syntax (`0-3,8,^2`), used by vCPU pinning,
 * scheduler groups and resctrl allocations.
 *
 * @module
 */
import { VirError } from '../../errors.js';

/** Upper bound on IDs in a set, as libvirt's bitmaps have one. */
export const MAX_SET_ID = 16384;

/**
 * Parses `0-3,^2,8` into a sorted list of IDs. Throws `XML_DETAIL` on bad syntax.
 *
 * The work is linear in the text plus one sweep of `MAX_SET_ID`: a range
 * adds two marks to a difference array instead of one step per ID, so a long
 * list of wide ranges (`0-8191,` repeated for megabytes) costs no more than
 * reading it.
 */
export function parseIdSet(text: string, field = 'cpuset'): number[] {
  // depth[i] - depth[i - 1]: how many included ranges open at i minus those closed
  const delta = new Int32Array(MAX_SET_ID + 1);
  const excluded = new Uint8Array(MAX_SET_ID);
  const shown = text.length > 64 ? `${text.slice(0, 64)}...` : text;
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const neg = part.startsWith('^');
    const body = neg ? part.slice(1) : part;
    const m = /^(\d+)(?:-(\d+))?$/.exec(body);
    if (!m) throw new VirError('XML_DETAIL', 'conf', `invalid ID set '${shown}' in ${field}`, { field });
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (neg && m[2] !== undefined)
      throw new VirError('XML_DETAIL', 'conf', `invalid ID set '${shown}' in ${field}`, { field });
    if (hi < lo || hi >= MAX_SET_ID)
      throw new VirError('XML_DETAIL', 'conf', `ID range out of bounds in '${shown}' (${field})`, { field });
    if (neg) excluded[lo] = 1;
    else {
      delta[lo]!++;
      delta[hi + 1]!--;
    }
  }
  const out: number[] = [];
  let depth = 0;
  for (let i = 0; i < MAX_SET_ID; i++) {
    depth += delta[i]!;
    if (depth > 0 && excluded[i] === 0) out.push(i);
  }
  return out;
}

/** Formats IDs the way libvirt does: ranges joined with commas (`0-3,8`). */
export function formatIdSet(ids: Iterable<number>): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const out: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/**
 * libvirt's CPU/ID set syntax (`0-3,8,^2`), used by vCPU pinning,
 * scheduler groups and resctrl allocations.
 *
 * @module
 */
import { VirError } from '../../errors.js';

/** Upper bound on IDs in a set, as libvirt's bitmaps have one. */
export const MAX_SET_ID = 16384;

/** Parses `0-3,^2,8` into a sorted list of IDs. Throws `XML_DETAIL` on bad syntax. */
export function parseIdSet(text: string, field = 'cpuset'): number[] {
  const include = new Set<number>();
  const exclude = new Set<number>();
  const parts = text.split(',').map((p) => p.trim());
  for (const part of parts) {
    const neg = part.startsWith('^');
    const body = neg ? part.slice(1) : part;
    const m = /^(\d+)(?:-(\d+))?$/.exec(body);
    if (!m) throw new VirError('XML_DETAIL', 'conf', `invalid ID set '${text}' in ${field}`, { field });
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (neg && m[2] !== undefined)
      throw new VirError('XML_DETAIL', 'conf', `invalid ID set '${text}' in ${field}`, { field });
    if (hi < lo || hi >= MAX_SET_ID)
      throw new VirError('XML_DETAIL', 'conf', `ID range out of bounds in '${text}' (${field})`, { field });
    for (let i = lo; i <= hi; i++) (neg ? exclude : include).add(i);
  }
  return [...include].filter((i) => !exclude.has(i)).sort((a, b) => a - b);
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

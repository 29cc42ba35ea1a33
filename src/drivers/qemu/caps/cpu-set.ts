/**
 * CPU and node sets as the kernel and libvirt write them: `0-3,8,10-11`.
 *
 * Parsing follows libvirt's bitmap syntax (single numbers, `N-M` ranges with
 * N <= M, `^N` to drop a number, blanks around the separators); formatting
 * gives the shortest list of ranges in ascending order, which is what every
 * `cpus=` and `siblings=` attribute of the capabilities carries.
 *
 * @module
 */

/** The largest id a set may hold: far beyond any real host, small enough to never exhaust memory. */
export const MAX_SET_ID = 1 << 20;

/**
 * Parses a set; returns the message of what is wrong on bad input (so the
 * caller can name the file it came from). Empty or blank text is refused
 * unless `allowEmpty`.
 */
export function parseIdSet(text: string, allowEmpty = false): number[] | string {
  const ids = new Set<number>();
  let rest = text.trimStart();
  if (rest === '') return allowEmpty ? [] : 'empty set';
  const number = (): number | undefined => {
    const m = /^\d+/.exec(rest);
    if (!m) return undefined;
    rest = rest.slice(m[0].length);
    const n = Number(m[0]);
    return n <= MAX_SET_ID ? n : undefined;
  };
  for (;;) {
    const negate = rest.startsWith('^');
    if (negate) rest = rest.slice(1);
    const start = number();
    if (start === undefined) return `'${text.trim()}' is not a valid set`;
    rest = rest.trimStart();
    if (rest.startsWith('-')) {
      if (negate) return `'${text.trim()}' is not a valid set`;
      rest = rest.slice(1).trimStart();
      const last = number();
      if (last === undefined || last < start) return `'${text.trim()}' is not a valid set`;
      for (let i = start; i <= last; i++) ids.add(i);
      rest = rest.trimStart();
    } else if (negate) {
      ids.delete(start);
    } else {
      ids.add(start);
    }
    if (rest === '') break;
    if (!rest.startsWith(',')) return `'${text.trim()}' is not a valid set`;
    rest = rest.slice(1).trimStart();
  }
  return [...ids].sort((a, b) => a - b);
}

/** `[0,1,2,3,8]` -> `0-3,8`. The input must be ascending without duplicates. */
export function formatIdSet(ids: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < ids.length) {
    const start = ids[i] as number;
    let end = start;
    while (i + 1 < ids.length && ids[i + 1] === end + 1) end = ids[++i] as number;
    parts.push(start === end ? String(start) : `${start}-${end}`);
    i++;
  }
  return parts.join(',');
}

/** Number of set bits in a hexadecimal mask such as resctrl's `cbm_mask` (`fffff`); undefined if not hex. */
export function countMaskBits(hex: string): number | undefined {
  if (!/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  let n = 0;
  for (const c of hex) {
    let v = Number.parseInt(c, 16);
    while (v) {
      n += v & 1;
      v >>= 1;
    }
  }
  return n;
}

/**
 * ID sets (`0-3,^2,8`) are read from the document, so a long list of wide
 * ranges must not cost one step per ID per range: 16 MiB of `0-8191,` once
 * meant billions of steps. The bench times the full-size case; here the
 * answer is checked against a direct reading of the syntax.
 */
import { describe, expect, it } from 'vitest';
import { MAX_SET_ID, parseIdSet } from '../../src/conf/domain/cpuset.js';
import { VirError } from '../../src/errors.js';

/** The syntax read literally: one step per ID, fine for small sets. */
function reference(text: string): number[] {
  const inc = new Set<number>();
  const exc = new Set<number>();
  for (const part of text.split(',').map((p) => p.trim())) {
    const neg = part.startsWith('^');
    const [lo, hi] = (neg ? part.slice(1) : part).split('-').map(Number) as [number, number?];
    for (let i = lo; i <= (hi ?? lo); i++) (neg ? exc : inc).add(i);
  }
  return [...inc].filter((i) => !exc.has(i)).sort((a, b) => a - b);
}

describe('parseIdSet', () => {
  it('gives the same sets as the literal reading', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let k = 0; k < 300; k++) {
      const parts: string[] = [];
      for (let p = 0, n = 1 + rnd(6); p < n; p++) {
        const lo = rnd(64);
        const r = rnd(4);
        parts.push(r === 0 ? `^${lo}` : r === 1 ? `${lo}` : `${lo}-${lo + rnd(40)}`);
      }
      if (parts.every((p) => p.startsWith('^'))) parts.push('3');
      const text = parts.join(',');
      expect(parseIdSet(text), text).toEqual(reference(text));
    }
  });

  it('reads many wide ranges without a step per ID', () => {
    const text = `${'0-8191,'.repeat(150_000)}^5,16383`;
    const ids = parseIdSet(text);
    expect(ids.length).toBe(8192);
    expect(ids[4]).toBe(4);
    expect(ids[5]).toBe(6);
    expect(ids.at(-1)).toBe(16383);
  });

  it('refuses IDs at or past the bound, with a short message', () => {
    const long = `${'1,'.repeat(10_000)}${MAX_SET_ID}`;
    try {
      parseIdSet(long, '/domain/cputune/vcpusched/@vcpus');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(VirError);
      expect((err as VirError).code).toBe('XML_DETAIL');
      expect((err as VirError).message.length).toBeLessThan(200);
    }
    expect(() => parseIdSet('0-99999999999999999999')).toThrow(VirError);
    expect(() => parseIdSet('')).toThrow(VirError);
  });
});

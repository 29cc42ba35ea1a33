/**
 * A fixed-size bit set over the feature numbers of the CPU database. The
 * engine's hot paths (compare, baseline, decoding) work on these instead of
 * string arrays: a whole x86 feature set is a dozen 32-bit words.
 *
 * @module
 */

/**
 * A set of CPU features as bits, one per feature of the database: the engine compares and
 * combines whole feature sets with a few word operations.
 */
export class FeatureSet {
  /** The bits, 32 features per word, feature `i` at bit `i % 32` of word `i / 32`. */
  readonly words: Uint32Array;

  constructor(size: number, words?: Uint32Array) {
    this.words = words ?? new Uint32Array((size + 31) >>> 5);
  }

  /** A set sized for `size` features holding `members`. */
  static of(size: number, members: Iterable<number>): FeatureSet {
    const s = new FeatureSet(size);
    for (const m of members) s.add(m);
    return s;
  }

  /** How many features the set can hold. */
  get capacity(): number {
    return this.words.length * 32;
  }

  /** Whether feature `i` is in the set. */
  has(i: number): boolean {
    return ((this.words[i >>> 5] ?? 0) & (1 << (i & 31))) !== 0;
  }

  /** Adds feature `i`, in place. */
  add(i: number): this {
    const w = i >>> 5;
    this.words[w] = (this.words[w] ?? 0) | (1 << (i & 31));
    return this;
  }

  /** Removes feature `i`, in place. */
  delete(i: number): this {
    const w = i >>> 5;
    this.words[w] = (this.words[w] ?? 0) & ~(1 << (i & 31));
    return this;
  }

  /** An independent copy. */
  clone(): FeatureSet {
    return new FeatureSet(0, this.words.slice());
  }

  /** In place: this ∪ other. */
  union(other: FeatureSet): this {
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) a[i] = (a[i] ?? 0) | (b[i] ?? 0);
    return this;
  }

  /** In place: this \ other. */
  subtract(other: FeatureSet): this {
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) a[i] = (a[i] ?? 0) & ~(b[i] ?? 0);
    return this;
  }

  /** In place: this ∩ other. */
  intersect(other: FeatureSet): this {
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) a[i] = (a[i] ?? 0) & (b[i] ?? 0);
    return this;
  }

  /** Whether every feature here is also in `other`. */
  isSubsetOf(other: FeatureSet): boolean {
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) if (((a[i] ?? 0) & ~(b[i] ?? 0)) !== 0) return false;
    return true;
  }

  /** Whether the two sets share a feature. */
  intersects(other: FeatureSet): boolean {
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) if (((a[i] ?? 0) & (b[i] ?? 0)) !== 0) return true;
    return false;
  }

  /** Whether the two sets hold the same features. */
  equals(other: FeatureSet): boolean {
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return false;
    return true;
  }

  /** Whether the set holds no feature. */
  isEmpty(): boolean {
    for (const w of this.words) if (w !== 0) return false;
    return true;
  }

  /** How many features the set holds. */
  get size(): number {
    let n = 0;
    for (const w of this.words) n += popcount(w);
    return n;
  }

  /** |this \ other|, without allocating. */
  countMinus(other: FeatureSet): number {
    const a = this.words;
    const b = other.words;
    let n = 0;
    for (let i = 0; i < a.length; i++) n += popcount((a[i] ?? 0) & ~(b[i] ?? 0));
    return n;
  }

  /** Members in ascending order (which is the database's feature order). */
  *[Symbol.iterator](): IterableIterator<number> {
    const words = this.words;
    for (let wi = 0; wi < words.length; wi++) {
      let w = words[wi] ?? 0;
      while (w !== 0) {
        const low = w & -w;
        yield (wi << 5) + (31 - Math.clz32(low));
        w ^= low;
      }
    }
  }
}

function popcount(v: number): number {
  let x = v >>> 0;
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

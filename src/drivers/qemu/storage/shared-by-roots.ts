/**
 * One object per pair of roots (config, run), shared by every connection
 * of this process on them and forgotten when the last lets go: the pool
 * and network tables, as libvirt's daemon has one list of each.
 *
 * @module
 */
export class SharedByRoots<T> {
  readonly #shared = new Map<string, { value: T; users: number }>();

  /** The value for these roots (made by `make` with its key the first time); pair with {@link release}. */
  acquire(configRoot: string, runRoot: string, make: (key: string) => T): T {
    const key = `${configRoot}\0${runRoot}`;
    const found = this.#shared.get(key);
    if (found) {
      found.users++;
      return found.value;
    }
    const value = make(key);
    this.#shared.set(key, { value, users: 1 });
    return value;
  }

  /** One user of `value` (acquired under `key`) lets go. */
  release(key: string, value: T): void {
    const found = this.#shared.get(key);
    if (!found || found.value !== value) return;
    if (--found.users === 0) this.#shared.delete(key);
  }
}

/**
 * Which parts of a definition a piece of code actually reads.
 *
 * `trackReads(obj)` gives a deep proxy of `obj` and the set of paths read
 * through it; `leafPaths(obj)` lists every primitive value an object holds,
 * by the same path syntax (`devices.disks[0].source.file`, `#unknown` for
 * the XML a model keeps verbatim). A leaf whose path was never read was
 * ignored by the code: the basis of the "parsed means consumed or refused"
 * check of the QEMU command line.
 */

/** Objects whose methods need their real `this` (no proxy) and count as one value. */
function opaque(v: object): boolean {
  return (
    v instanceof Map ||
    v instanceof Set ||
    v instanceof Date ||
    v instanceof RegExp ||
    ArrayBuffer.isView(v) ||
    v instanceof ArrayBuffer ||
    v instanceof Promise
  );
}

function segment(key: string | symbol, parentIsArray: boolean): string {
  if (typeof key === 'symbol')
    return key === Symbol.for('virtkit.unknownXml') ? '#unknown' : `#${String(key.description)}`;
  return parentIsArray && /^\d+$/.test(key) ? `[${key}]` : `.${key}`;
}

function join(base: string, seg: string): string {
  return base === '' ? seg.replace(/^\./, '') : `${base}${seg}`;
}

export interface Tracked<T> {
  proxy: T;
  /** Every path read: leaves and the objects on the way. */
  reads: Set<string>;
}

export function trackReads<T extends object>(root: T): Tracked<T> {
  const reads = new Set<string>();
  // One proxy per (object, path) keeps identity stable for code comparing objects.
  const proxies = new WeakMap<object, Map<string, object>>();
  const wrap = (target: object, path: string): object => {
    let byPath = proxies.get(target);
    if (!byPath) {
      byPath = new Map();
      proxies.set(target, byPath);
    }
    const known = byPath.get(path);
    if (known) return known;
    const isArray = Array.isArray(target);
    const proxy = new Proxy(target, {
      get(t, key, receiver) {
        const value: unknown = Reflect.get(t, key, receiver);
        if (typeof value === 'function') return value;
        if (
          isArray &&
          (key === 'length' || typeof key === 'symbol') &&
          key !== Symbol.for('virtkit.unknownXml')
        )
          return value;
        const p = join(path, segment(key, isArray));
        reads.add(p);
        if (value !== null && typeof value === 'object' && !opaque(value)) return wrap(value, p);
        return value;
      },
    });
    byPath.set(path, proxy);
    return proxy;
  };
  return { proxy: wrap(root, '') as T, reads };
}

/** Where a node was in the source: bookkeeping, not content. */
function position(key: string): boolean {
  return key === 'line' || key === 'column';
}

/**
 * Keys of a kept XML node that say what kind of node it is, not what it
 * holds: an element's `type` and `name`, a text node's `type`, and where
 * unknown XML goes back (`after`). Its content is its attributes and text.
 */
function nodeBookkeeping(v: object, key: string): boolean {
  const n = v as { type?: unknown; attrs?: unknown; children?: unknown; node?: unknown };
  if (n.type === 'element' && Array.isArray(n.attrs) && Array.isArray(n.children))
    return key === 'type' || key === 'name';
  if ((n.type === 'text' || n.type === 'cdata' || n.type === 'comment') && 'value' in n)
    return key === 'type';
  return key === 'after' && 'node' in n;
}

/** Every primitive value `root` holds (own enumerable keys and kept unknown XML), by path. */
export function leafPaths(root: object): string[] {
  const out: string[] = [];
  const seen = new Set<object>();
  const walk = (v: unknown, path: string) => {
    if (v === null || typeof v !== 'object' || opaque(v)) {
      if (v !== undefined && path !== '') out.push(path);
      return;
    }
    if (seen.has(v)) return;
    seen.add(v);
    const isArray = Array.isArray(v);
    for (const key of Object.keys(v)) {
      if (position(key) || nodeBookkeeping(v, key)) continue;
      walk((v as Record<string, unknown>)[key], join(path, segment(key, isArray)));
    }
    const unknownKey = Symbol.for('virtkit.unknownXml');
    if (Object.hasOwn(v, unknownKey))
      walk((v as Record<symbol, unknown>)[unknownKey], join(path, '#unknown'));
  };
  walk(root, '');
  return out;
}

/**
 * A path with its indexes wildcarded (`devices.disks[*].source.file`), and
 * XML kept verbatim reported once by its owner: `devices.disks[*]#unknown`
 * for unknown XML, `seclabels[*]` (raw XML) for an element the model keeps
 * as a tree.
 */
export function pattern(path: string): string {
  const p = path.replace(/\[\d+\]/g, '[*]');
  const unknown = p.indexOf('#unknown');
  if (unknown >= 0) return p.slice(0, unknown + '#unknown'.length);
  const raw = /\.(children|attrs)\[\*\]/.exec(p);
  if (raw) return `${p.slice(0, raw.index)} (raw XML)`;
  // the attributes, name and text of a kept element are its content too
  return p;
}

/**
 * Semantic XML comparison for tests and the conformance runner: two
 * documents are equal when they have the same elements in the same order,
 * the same attributes in any order and the same text, whatever their
 * indentation and quoting.
 *
 * @module
 */
import { parseXml } from './parse.js';
import type { XmlElement, XmlNode } from './tree.js';

/** What `xmlEqual` and `xmlDiff` ignore. */
export interface XmlEqualOptions {
  /** Ignore comments and processing instructions. Default true. */
  ignoreComments?: boolean;
  /** Treat CDATA sections as text. Default true. */
  cdataAsText?: boolean;
}

/** True when `a` and `b` are semantically the same document. */
export function xmlEqual(
  a: string | XmlElement,
  b: string | XmlElement,
  options: XmlEqualOptions = {},
): boolean {
  return xmlDiff(a, b, options) === undefined;
}

/**
 * The first difference between two documents, as a readable path and
 * reason (`/domain/devices/disk[2]/@type: 'file' != 'block'`), or undefined
 * when they are equal.
 */
export function xmlDiff(
  a: string | XmlElement,
  b: string | XmlElement,
  options: XmlEqualOptions = {},
): string | undefined {
  const ea = typeof a === 'string' ? parseXml(a) : a;
  const eb = typeof b === 'string' ? parseXml(b) : b;
  return diffElement(ea, eb, `/${ea.name}`, options);
}

function significant(nodes: XmlNode[], options: XmlEqualOptions): XmlNode[] {
  const ignoreComments = options.ignoreComments !== false;
  const cdataAsText = options.cdataAsText !== false;
  const hasElement = nodes.some((n) => n.type === 'element');
  const out: XmlNode[] = [];
  for (const n of nodes) {
    if (ignoreComments && (n.type === 'comment' || n.type === 'pi')) continue;
    let node: XmlNode = n;
    if (cdataAsText && n.type === 'cdata') node = { type: 'text', value: n.value };
    if (node.type === 'text') {
      if (hasElement && /^[ \t\n\r]*$/.test(node.value)) continue;
      const last = out[out.length - 1];
      if (last?.type === 'text') {
        last.value += node.value;
        continue;
      }
      node = { type: 'text', value: node.value };
    }
    out.push(node);
  }
  return out;
}

function diffElement(
  a: XmlElement,
  b: XmlElement,
  path: string,
  options: XmlEqualOptions,
): string | undefined {
  if (a.name !== b.name) return `${path}: element <${a.name}> != <${b.name}>`;
  const attrsA = new Map(a.attrs.map((x) => [x.name, x.value]));
  const attrsB = new Map(b.attrs.map((x) => [x.name, x.value]));
  for (const [k, v] of attrsA) {
    const w = attrsB.get(k);
    if (w === undefined) return `${path}/@${k}: only in first ('${v}')`;
    if (w !== v) return `${path}/@${k}: '${v}' != '${w}'`;
  }
  for (const [k, w] of attrsB) if (!attrsA.has(k)) return `${path}/@${k}: only in second ('${w}')`;

  const ka = significant(a.children, options);
  const kb = significant(b.children, options);
  const counts = new Map<string, number>();
  const n = Math.max(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const x = ka[i];
    const y = kb[i];
    if (!x || !y) {
      const extra = (x ?? y)!;
      return `${path}: ${x ? 'first' : 'second'} has extra ${describe(extra)}`;
    }
    if (x.type !== y.type) return `${path}: ${describe(x)} != ${describe(y)}`;
    if (x.type === 'element' && y.type === 'element') {
      const idx = (counts.get(x.name) ?? 0) + 1;
      counts.set(x.name, idx);
      const d = diffElement(x, y, `${path}/${x.name}[${idx}]`, options);
      if (d) return d;
    } else if (x.type === 'pi' && y.type === 'pi') {
      if (x.target !== y.target || x.value !== y.value) return `${path}: ${describe(x)} != ${describe(y)}`;
    } else if ((x as { value: string }).value !== (y as { value: string }).value) {
      return `${path}: ${describe(x)} != ${describe(y)}`;
    }
  }
  return undefined;
}

function describe(n: XmlNode): string {
  switch (n.type) {
    case 'element':
      return `<${n.name}>`;
    case 'pi':
      return `<?${n.target}?>`;
    default:
      return `${n.type} ${JSON.stringify(n.value.length > 60 ? `${n.value.slice(0, 60)}...` : n.value)}`;
  }
}

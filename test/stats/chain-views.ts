/**
 * Readers of what libvirt and virtkit show about a guest's backing chains,
 * for the differentials against libvirt's QEMU driver
 * (qemu-detected-chain, qemu-hotplug-chain, qemu-volume-chain). Each turns
 * one side's answer into plain lines with its image directory written as
 * `DIR`, so that the two sides, whose images lie in different directories,
 * compare with one `toEqual`. One copy, so that every differential compares
 * the same things in the same way.
 */
import { parseXml } from '../../src/xml/index.js';
import type { XmlElement } from '../../src/xml/tree.js';

const kids = (el: XmlElement, name: string) =>
  el.children.filter((c): c is XmlElement => c.type === 'element' && c.name === name);
const attr = (el: XmlElement | undefined, name: string) => el?.attrs.find((a) => a.name === name)?.value;

/**
 * What a `<source>` names: its file or device, or for a volume disk its pool
 * and volume (libvirt keeps those in the live XML rather than the file they
 * resolve to), with `dir` written as `DIR`.
 */
function sourceName(s: XmlElement | undefined, dir: string): string {
  const pool = attr(s, 'pool');
  const volume = attr(s, 'volume');
  const volumeName = pool !== undefined || volume !== undefined ? `${pool}:${volume}` : undefined;
  return (attr(s, 'file') ?? attr(s, 'dev') ?? volumeName ?? '').replace(dir, 'DIR');
}

/**
 * Each disk's chain in a domain XML as lines, by target: the top's source
 * and index, then each `<backingStore>`'s type, index, format and source,
 * and the empty terminator's attributes and children. The indexes and the
 * terminator are what libvirt's live XML is compared on, so each is a line
 * of its own and a difference names the layer.
 */
export function chains(xml: string, dir: string): Record<string, string[]> {
  const root = parseXml(xml);
  const out: Record<string, string[]> = {};
  const devices = kids(root, 'devices')[0]!;
  for (const d of kids(devices, 'disk')) {
    const target = attr(kids(d, 'target')[0], 'dev')!;
    const src = kids(d, 'source')[0];
    const lines = [`top ${sourceName(src, dir)} index=${attr(src, 'index') ?? '-'}`];
    for (let bs = kids(d, 'backingStore')[0]; bs; bs = kids(bs, 'backingStore')[0]) {
      if (kids(bs, 'source').length === 0) {
        lines.push(
          `end attrs=${bs.attrs.length} children=${bs.children.filter((c) => c.type === 'element').length}`,
        );
        break;
      }
      lines.push(
        `backing type=${attr(bs, 'type')} index=${attr(bs, 'index') ?? '-'} format=${attr(kids(bs, 'format')[0], 'type')} ${sourceName(kids(bs, 'source')[0], dir)} source-index=${attr(kids(bs, 'source')[0], 'index') ?? '-'}`,
      );
    }
    out[target] = lines;
  }
  return out;
}

/**
 * The block records' names, paths (in `dir`) and indexes from the `block`
 * statistics with backing records: what says which image is which. The
 * counters and sizes are left out, as they differ between any two runs.
 */
export function records(stats: Record<string, unknown>, dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(stats))
    if (/^block\.(count|\d+\.(name|path|backingIndex))$/.test(k))
      out[k] = typeof v === 'string' ? v.replace(dir, 'DIR') : v;
  return out;
}

/**
 * QEMU's `libvirt-N-storage` nodes from a `query-named-block-nodes` reply,
 * with the file each opens, sorted: which numbers the images took, and
 * which are open. (The format nodes are left out: libvirt 9.0 puts a raw
 * format node over a raw image, virtkit opens a raw image as its storage
 * node alone, at start as when plugging.)
 */
export function nodes(reply: unknown, dir: string): string[] {
  const list = (reply as { return: Array<{ 'node-name'?: string; file?: string }> }).return;
  return list
    .filter((n) => /^libvirt-\d+-storage$/.test(n['node-name'] ?? ''))
    .map((n) => `${n['node-name']} ${(n.file ?? '').replace(dir, 'DIR')}`)
    .sort();
}

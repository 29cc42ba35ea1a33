/**
 * The sizes libvirt's parser reads into KiB numbers beside `<memory>`: each
 * memory device's (`<source>`'s `<pagesize>` and `<alignsize>`, `<target>`'s
 * `<size>`, `<label><size>`, `<block>`, `<requested>`, `<current>`) and each
 * huge page size of `<memoryBacking>`. libvirt formats every one of them
 * with `unit='KiB'` whatever unit the document used, so a definition read
 * here is written back the same way, in the inactive and the live XML of
 * every driver alike. A size is rounded up to whole KiB, as libvirt rounds.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import type { XmlElement } from '../../xml/tree.js';
import { toKiB } from '../units.js';
import type { DomainDefData } from './domain-spec.js';

/** The size children of a memory device's `<source>` and `<target>`, by parent. */
const SOURCE_SIZES = ['pagesize', 'alignsize'];
const TARGET_SIZES = ['size', 'block', 'requested', 'current'];

function sizeError(field: string, err: unknown): VirError {
  return new VirError('XML_DETAIL', 'conf', `invalid size in ${field}: ${(err as Error).message}`, {
    field,
    cause: err,
  });
}

function kibOf(value: string, unit: string, field: string): number {
  try {
    if (!/^\s*\d+\s*$/.test(value)) throw new Error(`'${value.trim()}' is not a size`);
    const k = toKiB(BigInt(value.trim()), unit);
    if (k > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('too large');
    return Number(k);
  } catch (err) {
    throw sizeError(field, err);
  }
}

/** `<name unit=...>N</name>` children of `parent` made `<name unit='KiB'>K</name>`. */
function childrenToKiB(parent: XmlElement | undefined, names: readonly string[], field: string): void {
  if (!parent) return;
  for (const c of parent.children) {
    if (c.type !== 'element') continue;
    if (c.name === 'label') childrenToKiB(c, ['size'], `${field}/label`);
    if (!names.includes(c.name)) continue;
    const text = c.children.map((n) => (n.type === 'text' ? n.value : '')).join('');
    // an element with other content than its number is the command line's to refuse
    if (c.children.some((n) => n.type !== 'text')) continue;
    const unit = c.attrs.find((a) => a.name === 'unit')?.value ?? 'KiB';
    const value = kibOf(text, unit, `${field}/${c.name}`);
    c.attrs = [{ name: 'unit', value: 'KiB' }, ...c.attrs.filter((a) => a.name !== 'unit')];
    c.children = [{ type: 'text', value: String(value) }];
  }
}

/** Every memory device and huge page size of `def` in KiB, written with `unit='KiB'`. */
export function memorySizesToKiB(def: DomainDefData): void {
  for (const [i, page] of (def.memoryBacking?.hugepages?.pages ?? []).entries()) {
    page.size = kibOf(
      String(page.size),
      page.unit ?? 'KiB',
      `/domain/memoryBacking/hugepages/page[${i + 1}]/@size`,
    );
    page.unit = 'KiB';
  }
  for (const [i, m] of (def.devices?.memories ?? []).entries()) {
    const field = `/domain/devices/memory[${i + 1}]`;
    childrenToKiB(m.source, SOURCE_SIZES, `${field}/source`);
    childrenToKiB(m.target, TARGET_SIZES, `${field}/target`);
  }
}

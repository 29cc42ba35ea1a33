/**
 * `<memory>` devices: DIMMs (`pc-dimm`), NVDIMMs (`nvdimm`), `virtio-pmem`
 * and `virtio-mem`, each a memory backend object (chosen by the rules of
 * {@link memoryBackend}) plus the device that plugs it into the guest.
 * The model keeps their `<source>`/`<target>` as XML, read here.
 *
 * @module
 */
import type { MemoryDeviceDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { XmlElement } from '../../../xml/tree.js';
import type { ArgvBuilder } from './argv-builder.js';
import { checkValue } from './escape.js';
import { addMemoryBackend, type MemoryDeviceSource, memoryBackend } from './memory-backend.js';
import type { CommandLinePaths } from './types.js';

export function childEl(el: XmlElement | undefined, name: string): XmlElement | undefined {
  for (const c of el?.children ?? []) if (c.type === 'element' && c.name === name) return c;
  return undefined;
}

function textOf(el: XmlElement | undefined): string | undefined {
  if (!el) return undefined;
  let s = '';
  for (const c of el.children) if (c.type === 'text' || c.type === 'cdata') s += c.value;
  return s.trim();
}

const UNIT_KIB: Record<string, number> = {
  b: 1 / 1024,
  bytes: 1 / 1024,
  k: 1,
  kib: 1,
  m: 1024,
  mib: 1024,
  g: 1024 ** 2,
  gib: 1024 ** 2,
  t: 1024 ** 3,
  tib: 1024 ** 3,
};

/** A `<size unit=...>N</size>`-style element in KiB (rounded up). */
export function kibOf(el: XmlElement | undefined, field: string): number | undefined {
  const text = textOf(el);
  if (text === undefined || !el) return undefined;
  const unit = (el.attrs.find((a) => a.name === 'unit')?.value ?? 'KiB').toLowerCase();
  const factor = UNIT_KIB[unit];
  const kib = factor === undefined || !/^\d+$/.test(text) ? Number.NaN : Math.ceil(Number(text) * factor);
  if (!Number.isSafeInteger(kib) || kib * 1024 > Number.MAX_SAFE_INTEGER)
    throw new VirError('XML_DETAIL', 'qemu', `invalid size '${text}' ${unit}`, { field });
  return kib;
}

function idList(s: string, field: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m)
      throw new VirError('XML_DETAIL', 'qemu', `'${checkValue(part, field)}' is not a node range`, { field });
    for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) out.push(i);
  }
  return out;
}

/** x86 memory modules are plugged in 2 MiB steps: libvirt rounds their size up to that. */
const MODULE_ALIGN_KIB = 2048;

const DRIVER: Record<string, string> = {
  dimm: 'pc-dimm',
  nvdimm: 'nvdimm',
  'virtio-pmem': 'virtio-pmem-pci',
  'virtio-mem': 'virtio-mem-pci',
};

const ALIAS_PREFIX: Record<string, string> = {
  dimm: 'dimm',
  nvdimm: 'nvdimm',
  'virtio-pmem': 'virtiopmem',
  'virtio-mem': 'virtiomem',
};

export function buildMemoryDevices(
  b: ArgvBuilder,
  def: DomainDef,
  paths: CommandLinePaths,
  pci: (a: unknown) => Record<string, unknown>,
): void {
  const mems = def.devices?.memories ?? [];
  const aliases = memoryDeviceAliases(mems);
  for (const [i, m] of mems.entries())
    buildMemoryDevice(b, def, m, `/domain/devices/memory[${i + 1}]`, paths, pci, aliases[i] as string);
}

/** Whether the model is a DIMM-like module (a slot, no PCI address). */
const isDimmLike = (m: MemoryDeviceDef) => m.model === 'dimm' || m.model === 'nvdimm';

/** The slot of a DIMM-like module, when its address gives one. */
const slotOf = (m: MemoryDeviceDef) =>
  isDimmLike(m) && m.address?.type === 'dimm' ? m.address.slot : undefined;

/** The QEMU id of each memory device at start: libvirt names a slotted module after its slot, the others by their order. */
export function memoryDeviceAliases(mems: readonly MemoryDeviceDef[]): string[] {
  const counters = new Map<string, number>();
  return mems.map((m) => {
    const prefix = memoryAliasPrefix(m);
    const seq = counters.get(prefix) ?? 0;
    counters.set(prefix, seq + 1);
    return `${prefix}${slotOf(m) ?? seq}`;
  });
}

/** The prefix of a memory device's QEMU id (`dimm`, `virtiomem`, ...). */
export function memoryAliasPrefix(m: MemoryDeviceDef): string {
  return ALIAS_PREFIX[m.model] ?? m.model;
}

/**
 * One memory device `alias`: its backend object `mem<alias>` and its
 * `-device` (at start the alias is {@link memoryDeviceAliases}'; plugged in
 * live, a name no device has).
 */
export function buildMemoryDevice(
  b: ArgvBuilder,
  def: DomainDef,
  m: MemoryDeviceDef,
  field: string,
  paths: CommandLinePaths,
  pci: (a: unknown) => Record<string, unknown>,
  alias: string,
): void {
  {
    const driver = DRIVER[m.model];
    if (driver === undefined) {
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `memory device model '${m.model}' is not supported`, {
        field: `${field}/@model`,
      });
    }
    const target = m.target;
    const given = kibOf(childEl(target, 'size'), `${field}/target/size`);
    if (given === undefined || given === 0)
      throw new VirError('XML_DETAIL', 'qemu', 'memory device without a target size', {
        field: `${field}/target/size`,
      });
    const nodeText = textOf(childEl(target, 'node'));
    if (nodeText !== undefined && !/^\d+$/.test(nodeText))
      throw new VirError('XML_DETAIL', 'qemu', `invalid NUMA node '${checkValue(nodeText, field)}'`, {
        field: `${field}/target/node`,
      });
    const node = nodeText === undefined ? undefined : Number(nodeText);
    const cells = def.cpu?.numa?.cells?.length ?? 0;
    if (node !== undefined && node >= cells)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `NUMA node ${node} of a memory device is not a guest cell`,
        {
          field: `${field}/target/node`,
        },
      );
    const pmemLike = m.model === 'nvdimm' || m.model === 'virtio-pmem';
    const path = textOf(childEl(m.source, 'path'));
    if (pmemLike && path === undefined)
      throw new VirError('XML_DETAIL', 'qemu', `a ${m.model} device needs its <source><path>`, {
        field: `${field}/source/path`,
      });
    const isDimmLike = m.model === 'dimm' || m.model === 'nvdimm';
    const size = m.model === 'virtio-mem' ? given : Math.ceil(given / MODULE_ALIGN_KIB) * MODULE_ALIGN_KIB;
    const slot = isDimmLike && m.address?.type === 'dimm' ? m.address.slot : undefined;
    const nodemask = textOf(childEl(m.source, 'nodemask'));
    const src: MemoryDeviceSource = { alias, model: m.model };
    const pageKiB = kibOf(childEl(m.source, 'pagesize'), `${field}/source/pagesize`);
    if (pageKiB !== undefined) src.pageKiB = pageKiB;
    if (nodemask !== undefined) src.nodemask = idList(nodemask, `${field}/source/nodemask`);
    if (m.access !== undefined) src.access = m.access;
    if (m.discard !== undefined) src.discard = m.discard;
    if (path !== undefined) src.path = checkValue(path, `${field}/source/path`);
    if (m.model === 'nvdimm' && childEl(m.source, 'pmem')) src.pmem = true;
    const align = kibOf(childEl(m.source, 'alignsize'), `${field}/source/alignsize`);
    if (align !== undefined) {
      if (m.model !== 'nvdimm')
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'only an NVDIMM takes an alignment', {
          field: `${field}/source/alignsize`,
        });
      src.alignKiB = align;
    }
    addMemoryBackend(b, memoryBackend(def, `mem${alias}`, size, paths, node, src), field);

    const dev: Record<string, unknown> = { driver };
    if (m.model !== 'virtio-pmem') dev.node = node ?? 0;
    if (m.model === 'nvdimm') {
      const label = kibOf(childEl(childEl(target, 'label'), 'size'), `${field}/target/label/size`);
      if (label !== undefined) {
        // QEMU needs room for at least two label index blocks (128 KiB)
        if (label < 128)
          throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'an NVDIMM label must be at least 128 KiB', {
            field: `${field}/target/label/size`,
          });
        dev['label-size'] = label * 1024;
      }
      if (childEl(target, 'readonly')) dev.unarmed = true;
    } else {
      for (const name of ['label', 'readonly'])
        if (childEl(target, name))
          throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `<${name}> is for NVDIMMs only`, {
            field: `${field}/target/${name}`,
          });
    }
    if (m.model === 'virtio-mem') {
      const block = kibOf(childEl(target, 'block'), `${field}/target/block`);
      const requested = kibOf(childEl(target, 'requested'), `${field}/target/requested`);
      if (block !== undefined) dev['block-size'] = block * 1024;
      if (requested !== undefined) dev['requested-size'] = requested * 1024;
    }
    dev.memdev = `mem${alias}`;
    if (m.model === 'virtio-mem' && src.pageKiB !== undefined) dev.prealloc = true;
    if (!isDimmLike) {
      const base = childEl(target, 'address')?.attrs.find((a) => a.name === 'base')?.value;
      if (base !== undefined) {
        const n = Number(base);
        if (!Number.isSafeInteger(n) || n < 0)
          throw new VirError('XML_DETAIL', 'qemu', `invalid base address '${checkValue(base, field)}'`, {
            field: `${field}/target/address/@base`,
          });
        dev.memaddr = n;
      }
      const dynamic = target?.attrs.find((a) => a.name === 'dynamicMemslots')?.value;
      if (dynamic !== undefined) dev['dynamic-memslots'] = dynamic === 'yes';
    }
    dev.id = alias;
    if (isDimmLike) {
      if (slot !== undefined) dev.slot = slot;
      if (m.address?.type === 'dimm' && m.address.base !== undefined) dev.addr = m.address.base;
    } else Object.assign(dev, pci(m.address));
    b.props('-device', dev, field);
  }
}

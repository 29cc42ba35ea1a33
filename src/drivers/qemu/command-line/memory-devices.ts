/**
 * `<memory>` devices: DIMMs (`pc-dimm`) and `virtio-mem`, each a RAM
 * backend object plus the device that plugs it into a guest NUMA node.
 * The model keeps their `<source>`/`<target>` as XML, read here.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { XmlElement } from '../../../xml/tree.js';
import type { ArgvBuilder } from './argv-builder.js';
import { checkValue } from './escape.js';
import type { CommandLinePaths } from './types.js';

function childEl(el: XmlElement | undefined, name: string): XmlElement | undefined {
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
};

/** A `<size unit=...>N</size>`-style element in bytes. */
function bytesOf(el: XmlElement | undefined, field: string): number | undefined {
  const text = textOf(el);
  if (text === undefined || !el) return undefined;
  const unit = (el.attrs.find((a) => a.name === 'unit')?.value ?? 'KiB').toLowerCase();
  const factor = UNIT_KIB[unit];
  if (!/^\d+$/.test(text) || factor === undefined)
    throw new VirError('XML_DETAIL', 'qemu', `invalid size '${text}' ${unit}`, { field });
  return Math.round(Number(text) * factor * 1024);
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

export function buildMemoryDevices(
  b: ArgvBuilder,
  def: DomainDef,
  paths: CommandLinePaths,
  pci: (a: unknown) => Record<string, unknown>,
): void {
  let virtioMem = 0;
  for (const [i, m] of (def.devices?.memories ?? []).entries()) {
    const field = `/domain/devices/memory[${i + 1}]`;
    if (m.model !== 'dimm' && m.model !== 'virtio-mem') {
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `memory device model '${m.model}' is not supported`, {
        field: `${field}/@model`,
      });
    }
    const target = m.target;
    const given = bytesOf(childEl(target, 'size'), `${field}/target/size`);
    if (given === undefined)
      throw new VirError('XML_DETAIL', 'qemu', 'memory device without a target size', {
        field: `${field}/target/size`,
      });
    const node = Number(textOf(childEl(target, 'node')) ?? 0);
    const nodemask = textOf(childEl(m.source, 'nodemask'));
    const pageKiB = bytesOf(childEl(m.source, 'pagesize'), `${field}/source/pagesize`);
    const isDimm = m.model === 'dimm';
    // x86 DIMMs come in whole MiB: round up as libvirt does.
    const size = isDimm ? Math.ceil(given / 1048576) * 1048576 : given;
    const slot = isDimm && m.address?.type === 'dimm' ? m.address.slot : undefined;
    const alias = isDimm ? `dimm${slot ?? i}` : `virtiomem${virtioMem++}`;
    const backend: Record<string, unknown> = { 'qom-type': 'memory-backend-ram', id: `mem${alias}` };
    if (pageKiB !== undefined) {
      const dir = paths.hugepageDirs?.[String(pageKiB / 1024)];
      if (dir === undefined)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `no hugetlbfs mount for ${pageKiB / 1024} KiB pages`,
          {
            field: `${field}/source/pagesize`,
          },
        );
      backend['qom-type'] = 'memory-backend-file';
      backend['mem-path'] = checkValue(dir, 'paths.hugepageDirs');
      if (isDimm) backend.prealloc = true;
    }
    // virtio-mem plugs memory in on demand: nothing is reserved up front.
    if (!isDimm) backend.reserve = false;
    backend.size = size;
    if (nodemask !== undefined) {
      backend['host-nodes'] = idList(nodemask, `${field}/source/nodemask`);
      backend.policy = 'bind';
    }
    b.props('-object', backend, field);
    const dev: Record<string, unknown> = { driver: isDimm ? 'pc-dimm' : 'virtio-mem-pci', node };
    if (isDimm) {
      dev.memdev = `mem${alias}`;
      dev.id = alias;
      if (slot !== undefined) dev.slot = slot;
      if (m.address?.type === 'dimm' && m.address.base !== undefined) dev.addr = m.address.base;
    } else {
      const block = bytesOf(childEl(target, 'block'), `${field}/target/block`);
      const requested = bytesOf(childEl(target, 'requested'), `${field}/target/requested`);
      if (block !== undefined) dev['block-size'] = block;
      if (requested !== undefined) dev['requested-size'] = requested;
      dev.memdev = `mem${alias}`;
      if (pageKiB !== undefined) dev.prealloc = true;
      const base = childEl(target, 'address')?.attrs.find((a) => a.name === 'base')?.value;
      if (base !== undefined) dev.memaddr = Number.parseInt(base, base.startsWith('0x') ? 16 : 10);
      const dynamic = target?.attrs.find((a) => a.name === 'dynamicMemslots')?.value;
      if (dynamic !== undefined) dev['dynamic-memslots'] = dynamic === 'yes';
      dev.id = alias;
      Object.assign(dev, pci(m.address));
    }
    b.props('-device', dev, field);
  }
}

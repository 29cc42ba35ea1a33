/**
 * What only a running guest has, dropped from a definition as libvirt's
 * define does: libvirt parses a definition as inactive XML, which ignores
 * a disk's block job (`<mirror>`), the indexes of its backing chain, the
 * port a virtual network made for a running guest (`<source portid>`) and
 * whether an agent is connected to a virtio channel (`<target state>`).
 * Kept, they would reach the start as if they were settings, and QEMU has
 * nothing to do with them: the start numbers the chain's nodes afresh,
 * the network port is made anew, and the channel's state is reported by
 * QEMU once it runs.
 *
 * @module
 */
import { setUnknownContent, unknownContent } from '../../../conf/binding.js';
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { XmlElement, XmlNode } from '../../../xml/tree.js';

/** `<backingStore>` chain (kept as XML): drops the `index` of each layer and of its `<source>`. */
function dropChainIndexes(el: XmlElement): void {
  if (el.name === 'backingStore' || el.name === 'source')
    el.attrs = el.attrs.filter((a) => a.name !== 'index');
  for (const c of el.children as XmlNode[])
    if (c.type === 'element' && (c.name === 'backingStore' || c.name === 'source')) dropChainIndexes(c);
}

/** Every disk's chain without the numbers a start gave its layers (`index`). */
export function dropDiskChainIndexes(def: DomainDef): void {
  for (const d of def.devices?.disks ?? []) dropDiskIndexes(d);
}

/** One disk's chain without them (a disk about to be plugged, a new medium: numbered afresh). */
export function dropDiskIndexes(d: DiskDef): void {
  if (d.source) delete d.source.index;
  if (d.backingStore) dropChainIndexes(d.backingStore);
}

export function dropRuntimeState(def: DomainDef): void {
  const dev = def.devices;
  if (!dev) return;
  for (const d of dev.disks ?? []) {
    const kept = unknownContent(d);
    if (kept)
      setUnknownContent(d, {
        ...kept,
        nodes: kept.nodes.filter((n) => !(n.node.type === 'element' && n.node.name === 'mirror')),
      });
  }
  dropDiskChainIndexes(def);
  for (const n of dev.interfaces ?? []) if (n.type === 'network' && n.source) delete n.source.portid;
  for (const c of dev.channels ?? []) if (c.target?.type === 'virtio') delete c.target.state;
}

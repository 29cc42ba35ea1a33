/**
 * The `<alias>` of devices whose model keeps it as unknown XML (memory
 * devices, RNGs, watchdogs, channels): read, written, and for memory
 * devices written as QEMU's ids at start, as libvirt's live XML shows them.
 *
 * @module
 */
import { setUnknownContent, unknownContent } from '../../../conf/binding.js';
import type { MemoryDeviceDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { rawAttr } from '../command-line/device-props.js';
import { memoryDeviceAliases } from '../command-line/memory-devices.js';

/** A device's `<alias>` name, kept as unknown XML by the model. */
export function aliasOf(device: object): string | undefined {
  return rawAttr(device, 'alias', 'name');
}

/**
 * Gives a device its `<alias>` (replacing any), after the known child `after` names (libvirt
 * writes a device's alias after its own children: a memory device's after `<target>`).
 */
export function setAlias(device: object, name: string, after: string | null = null): void {
  const c = unknownContent(device) ?? { attrs: [], nodes: [] };
  const nodes = c.nodes.filter((n) => !(n.node.type === 'element' && n.node.name === 'alias'));
  nodes.push({
    after,
    node: { type: 'element', name: 'alias', attrs: [{ name: 'name', value: name }], children: [] },
  });
  setUnknownContent(device, { attrs: c.attrs, nodes });
}

/**
 * The known child a device's `<alias>` follows, where libvirt writes it: after the device's
 * own children, before `<address>` (a memory device's `<target>`, an RNG's `<backend>` (and
 * the `<driver>` kept after it), a channel's `<target>`; a watchdog has none before it).
 */
export function aliasPlace(kind: string): string | null {
  if (kind === 'memory' || kind === 'channel') return 'target';
  if (kind === 'rng') return 'backend';
  return null;
}

/** Writes each memory device's id at start as its alias, where it has none yet. */
export function stampMemoryAliases(live: DomainDef): void {
  const list: MemoryDeviceDef[] = live.devices?.memories ?? [];
  const ids = memoryDeviceAliases(list);
  for (const [i, d] of list.entries()) if (aliasOf(d) === undefined) setAlias(d, ids[i] as string, 'target');
}

/**
 * A virtio-mem device's size as the guest reached it: QEMU's
 * `MEMORY_DEVICE_SIZE_CHANGE` kept, as libvirt keeps it, as the device's
 * `<current>` in the live definition; with a balloon device the balloon size
 * moves by the change (libvirt 9.0: without one it stays the total).
 * Apart from `hotplug-memory.ts` so the event path needs none of hotplug's.
 *
 * @module
 */
import { devicesOf } from '../../../conf/domain/device-edit.js';
import type { MemoryDeviceDef } from '../../../conf/domain/devices/index.js';
import { element, text, type XmlElement } from '../../../xml/tree.js';
import { childEl, kibOf } from '../command-line/memory-devices.js';
import { commitLive } from './commit-defs.js';
import { aliasOf, stampMemoryAliases } from './device-alias.js';
import type { Entry } from './domain-entry.js';

/** `target` with its `<name>` child replaced (or added) by `<name unit='KiB'>kib</name>`. */
export function withSize(target: XmlElement, name: string, kib: number, after?: string): XmlElement {
  const el = element(name, [{ name: 'unit', value: 'KiB' }], [text(String(kib))]);
  const children = [...target.children];
  const at = children.findIndex((c) => c.type === 'element' && c.name === name);
  if (at >= 0) children[at] = el;
  else {
    const prev = after ? children.findIndex((c) => c.type === 'element' && c.name === after) : -1;
    children.splice(prev >= 0 ? prev + 1 : children.length, 0, el);
  }
  return { ...target, children };
}

/**
 * QEMU's `MEMORY_DEVICE_SIZE_CHANGE`: the virtio-mem device `alias` now
 * gives the guest `kib`. libvirt keeps it as the device's `<current>` and,
 * with a balloon, adds the change to the balloon size (QEMU's balloon figure
 * counts boot memory only). Returns whether the live definition changed.
 */
export function memorySizeChanged(e: Entry, alias: string, kib: number): boolean {
  const live = e.live;
  const runner = e.runner;
  if (!live || !runner) return false;
  stampMemoryAliases(live);
  const m = (devicesOf(live, 'memory') as MemoryDeviceDef[]).find((d) => aliasOf(d) === alias);
  if (m?.model !== 'virtio-mem') return false;
  const was = kibOf(childEl(m.target, 'current'), '/memory/target/current') ?? 0;
  m.target = withSize(m.target ?? element('target'), 'current', kib, 'requested');
  // with a balloon libvirt's size is the balloon's plus what virtio-mem plugged; without one, the total
  const b = live.devices?.memballoon;
  if (b !== undefined && b.model !== 'none') {
    const info = runner.getInfo();
    runner.hotplug.setMemory(info.maxMem, info.memory - was + kib);
  }
  commitLive(e, live);
  return true;
}

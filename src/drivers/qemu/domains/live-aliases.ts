/**
 * The `<alias>` of every device in a running guest's XML, as libvirt's live
 * XML shows it: the name QEMU knows the device by (its `-device` id), given
 * at start by libvirt's rules and `buildCommandLine`'s ids — a kind's
 * prefix and the device's place among its kind (`net0`, `input1`, `video0`,
 * `rng0`), a disk by its bus and address (`virtio-disk0`, `sata0-0-0`,
 * `scsi0-0-0-0`), a controller by type and index (`pci.1`, `pcie.0`,
 * `virtio-serial0`, `usb`; the machine's own IDE or SATA controller `ide`).
 * A device that has an alias already (a user's `ua-` one, or one given when
 * it was plugged in live) keeps it. Character and memory devices have their
 * own writers (`chardev-aliases.ts`, `device-alias.ts`).
 *
 * The aliases are added to the formatted live XML only: the definition the
 * driver keeps has none, as libvirt drops them from an inactive definition.
 *
 * @module
 */
import type { ControllerDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import type { XmlElement, XmlNode } from '../../../xml/index.js';
import { diskAlias } from '../command-line/disk-device.js';
import { usbControllerAlias } from '../command-line/usb-addresses.js';

/** Whether the machine type is a q35 one (its SATA controller 0 is built in as `ide`). */
function isQ35(def: DomainDef): boolean {
  return /q35/.test(def.os?.type?.machine ?? '');
}

/** Whether the machine has a built-in IDE controller 0 (i440fx's PIIX, `ide`). */
function hasBuiltinIde(def: DomainDef): boolean {
  const machine = def.os?.type?.machine ?? 'pc';
  return machine === 'pc' || /^pc-i440fx|^pc-\d/.test(machine) || machine === 'isapc';
}

/** libvirt's alias of a controller (before any user alias). */
export function controllerAlias(def: DomainDef, c: ControllerDef): string {
  const index = c.index ?? 0;
  switch (c.type) {
    case 'pci':
      return c.model === 'pcie-root' ? 'pcie.0' : `pci.${index}`;
    case 'usb':
      return usbControllerAlias(c);
    case 'ide':
      return index === 0 && hasBuiltinIde(def) ? 'ide' : `ide${index}`;
    case 'sata':
      return index === 0 && isQ35(def) ? 'ide' : `sata${index}`;
    default:
      return `${c.type}${index}`;
  }
}

/** Each device element name of `<devices>` with the alias of each of its elements, in order. */
function aliasesByElement(def: DomainDef): Map<string, Array<string | undefined>> {
  const dev = def.devices ?? {};
  const out = new Map<string, Array<string | undefined>>();
  const numbered = (prefix: string, list: readonly unknown[] | undefined) =>
    (list ?? []).map((_, i) => `${prefix}${i}`);
  out.set(
    'disk',
    (dev.disks ?? []).map((d) => diskAlias(def, d)),
  );
  out.set(
    'controller',
    (dev.controllers ?? []).map((c) => controllerAlias(def, c)),
  );
  // NICs count apart from the host devices: a hostdev-type interface is a host device (`hostdevN`,
  // numbered before the <hostdev>s), as buildCommandLine numbers them
  let nets = 0;
  let hostdevs = 0;
  out.set(
    'interface',
    (dev.interfaces ?? []).map((n) => (n.type === 'hostdev' ? `hostdev${hostdevs++}` : `net${nets++}`)),
  );
  out.set(
    'hostdev',
    (dev.hostdevs ?? []).map(() => `hostdev${hostdevs++}`),
  );
  out.set('input', numbered('input', dev.inputs));
  out.set('sound', numbered('sound', dev.sounds));
  out.set('video', numbered('video', dev.videos));
  out.set('redirdev', numbered('redir', dev.redirdevs));
  out.set('smartcard', numbered('smartcard', dev.smartcards));
  out.set('watchdog', numbered('watchdog', dev.watchdogs));
  out.set('rng', numbered('rng', dev.rngs));
  out.set('tpm', numbered('tpm', dev.tpms));
  out.set('filesystem', numbered('fs', dev.filesystems));
  out.set('hub', numbered('hub', dev.hubs));
  out.set('shmem', numbered('shmem', dev.shmems));
  out.set('memballoon', dev.memballoon && dev.memballoon.model !== 'none' ? ['balloon0'] : []);
  out.set('vsock', dev.vsock ? ['vsock0'] : []);
  return out;
}

/** The children a device's `<alias>` goes before (libvirt writes the device's info block in this order). */
const AFTER_ALIAS = new Set(['master', 'rom', 'acpi', 'address']);

/** Adds each device's `<alias>` (character and memory devices aside: see the module) to a formatted live definition. */
export function addDeviceAliases(root: XmlElement, def: DomainDef): void {
  addAliases(root, aliasesByElement(def));
}

/**
 * Gives each device element of a formatted definition's `<devices>` the
 * alias `aliases` lists for its place among the elements of its name, where
 * libvirt writes it: after the device's own children (and `<boot>`), before
 * `<master>`, `<rom>`, `<acpi>` and `<address>`. A device with an `<alias>`
 * keeps it.
 */
export function addAliases(
  root: XmlElement,
  aliases: ReadonlyMap<string, ReadonlyArray<string | undefined>>,
): void {
  const devices = root.children.find((c): c is XmlElement => c.type === 'element' && c.name === 'devices');
  if (!devices) return;
  const seen = new Map<string, number>();
  for (const el of devices.children as XmlNode[]) {
    if (el.type !== 'element') continue;
    const list = aliases.get(el.name);
    if (!list) continue;
    const n = seen.get(el.name) ?? 0;
    seen.set(el.name, n + 1);
    const alias = list[n];
    if (alias === undefined || el.children.some((c) => c.type === 'element' && c.name === 'alias')) continue;
    const node: XmlElement = {
      type: 'element',
      name: 'alias',
      attrs: [{ name: 'name', value: alias }],
      children: [],
    };
    const at = el.children.findIndex((c) => c.type === 'element' && AFTER_ALIAS.has(c.name));
    if (at >= 0) el.children.splice(at, 0, node);
    else el.children.push(node);
  }
}

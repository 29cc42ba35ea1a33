/**
 * The QEMU driver's host devices (`conn.nodeDevices` on `qemu:///system`
 * and `qemu:///session`): the sysfs backend of host-devices.ts, libvirt's
 * lookups and errors, and PCI passthrough (detach.ts) for the system
 * connection only.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { NodeDeviceDef } from '../../../conf/nodedev/nodedev-def.js';
import type {
  CallOptions,
  NodeDeviceCapName,
  NodeDeviceDriver,
  NodeDeviceEvent,
  NodeDeviceRef,
} from '../../../driver-objects.js';
import { VirError } from '../../../errors.js';
import { parseXml } from '../../../xml/parse.js';
import { serializeXml } from '../../../xml/serialize.js';
import type { XmlElement } from '../../../xml/tree.js';
import { checkUnused, type DetachSources, detachPci, reattachPci, resetPci } from './detach.js';
import { DeviceWatch } from './device-watch.js';
import { type HostDevice, type HostDeviceSources, scanHostDevices } from './host-devices.js';
import { createMdev, removeMdev } from './mdev-devices.js';

/** Where the facts are read, and whether this connection may change the host. */
export interface QemuNodeDevicesOptions extends Partial<HostDeviceSources>, Partial<DetachSources> {
  /** `qemu:///system`: detach, re-attach and reset are allowed. */
  readonly privileged: boolean;
  /** Milliseconds between two reads of the devices while events are listened to (device-watch.ts). */
  readonly watchIntervalMs?: number;
}

/**
 * The definition of a device to make: libvirt takes one without a `<name>`
 * (the driver names the device), which the model, reading what drivers
 * report, requires; a placeholder stands in for it.
 */
function definitionToCreate(xml: string): NodeDeviceDef {
  const root = parseXml(xml);
  if (root.name !== 'device')
    throw new VirError('XML_ERROR', 'nodedev', `expected a <device> element, not <${root.name}>`, {
      field: '/',
    });
  const named = root.children.some((c) => c.type === 'element' && c.name === 'name');
  const name: XmlElement = {
    type: 'element',
    name: 'name',
    attrs: [],
    children: [{ type: 'text', value: 'new' }],
  };
  return NodeDeviceDef.fromElement(named ? root : { ...root, children: [name, ...root.children] });
}

export class QemuNodeDevices implements NodeDeviceDriver {
  readonly #src: HostDeviceSources & DetachSources;
  readonly #privileged: boolean;
  readonly #watch: DeviceWatch;

  constructor(opts: QemuNodeDevicesOptions) {
    this.#privileged = opts.privileged;
    this.#src = {
      sysRoot: opts.sysRoot ?? '/sys',
      mountinfo: opts.mountinfo ?? '/proc/self/mountinfo',
      swaps: opts.swaps ?? '/proc/swaps',
      ...(opts.pciIds ? { pciIds: opts.pciIds } : {}),
      ...(opts.usbIds ? { usbIds: opts.usbIds } : {}),
      ...(opts.udevData ? { udevData: opts.udevData } : {}),
      ...(opts.addresses ? { addresses: opts.addresses } : {}),
    };
    this.#watch = new DeviceWatch(() => scanHostDevices(this.#src), opts.watchIntervalMs);
  }

  /** Device events: sysfs is read again at an interval while anyone listens (device-watch.ts). */
  subscribe(listener: (event: NodeDeviceEvent) => void): () => void {
    return this.#watch.subscribe(listener);
  }

  /** Every device, after the watch's first read when a subscription is new (so no change is missed). */
  async #scan(): Promise<HostDevice[]> {
    await this.#watch.ready();
    return scanHostDevices(this.#src);
  }

  async #find(name: string): Promise<HostDevice> {
    const d = (await this.#scan()).find((x) => x.name === name);
    if (!d) throw new VirError('NO_NODE_DEVICE', 'nodedev', `no node device with matching name '${name}'`);
    return d;
  }

  async listNodeDevices(filter: { caps?: readonly NodeDeviceCapName[] }): Promise<NodeDeviceRef[]> {
    const caps = filter.caps ?? [];
    return (await this.#scan())
      .filter((d) => caps.length === 0 || caps.some((c) => d.caps.includes(c)))
      .map((d) => ({ name: d.name }));
  }

  async lookupNodeDevice(name: string): Promise<NodeDeviceRef> {
    return { name: (await this.#find(name)).name };
  }

  async nodeDeviceGetXml(dev: NodeDeviceRef): Promise<string> {
    return serializeXml((await this.#find(dev.name)).xml);
  }

  async nodeDeviceGetParent(dev: NodeDeviceRef): Promise<string | undefined> {
    return (await this.#find(dev.name)).parent;
  }

  async nodeDeviceListCaps(dev: NodeDeviceRef): Promise<string[]> {
    return [...(await this.#find(dev.name)).caps];
  }

  async nodeDeviceDetach(
    dev: NodeDeviceRef,
    opts: CallOptions & { driverName?: string } = {},
  ): Promise<void> {
    const d = await this.#pci(dev, 'detach');
    await detachPci(d, opts.driverName ?? 'vfio-pci', this.#src);
    // the driver changed: listeners hear `updated` now rather than at the next read
    await this.#watch.refresh();
  }

  async nodeDeviceReAttach(dev: NodeDeviceRef): Promise<void> {
    await reattachPci(await this.#pci(dev, 'reattach'));
    await this.#watch.refresh();
  }

  async nodeDeviceReset(dev: NodeDeviceRef): Promise<void> {
    await resetPci(await this.#pci(dev, 'reset'));
  }

  /**
   * A mediated device from `<device><parent>P</parent><capability
   * type='mdev'><type id='T'/>[<uuid>U</uuid>]</capability></device>`,
   * through the kernel's files (mdev-devices.ts); nothing else can be made.
   */
  async createNodeDevice(xml: string): Promise<NodeDeviceRef> {
    this.#changes('create a host device');
    const def = definitionToCreate(xml);
    const caps = def.capabilities ?? [];
    const mdev = caps.length === 1 ? caps[0] : undefined;
    if (mdev?.type !== 'mdev')
      throw new VirError(
        'NO_SUPPORT',
        'nodedev',
        `creating a node device with capabilities ${caps.map((c) => `'${c.type}'`).join(', ') || 'none'} is not supported: only a mediated device (one <capability type='mdev'>)`,
        { field: '/device/capability' },
      );
    const parentName = def.parent?.name;
    if (!parentName)
      throw new VirError('INVALID_ARG', 'nodedev', 'a mediated device needs a <parent> device', {
        field: '/device/parent',
      });
    const parent = await this.#find(parentName);
    if (!parent.sysfsPath)
      throw new VirError('NO_SUPPORT', 'nodedev', `device '${parent.name}' offers no mediated device types`, {
        field: '/device/parent',
      });
    const name = await createMdev(
      this.#src,
      parent.name,
      parent.sysfsPath,
      mdev.mdevType!,
      mdev.uuid ?? randomUUID(),
    );
    await this.#watch.refresh();
    return { name };
  }

  /** Removes a mediated device; any other device is `NO_SUPPORT` naming it. */
  async nodeDeviceDestroy(dev: NodeDeviceRef): Promise<void> {
    this.#changes('destroy a host device');
    const d = await this.#find(dev.name);
    if (!d.caps.includes('mdev') || !d.sysfsPath)
      throw new VirError(
        'NO_SUPPORT',
        'nodedev',
        `device '${d.name}' cannot be destroyed: only mediated devices made by create can`,
        { field: 'name' },
      );
    await removeMdev(d.sysfsPath);
    await this.#watch.refresh();
  }

  #changes(what: string): void {
    if (!this.#privileged)
      throw new VirError(
        'OPERATION_DENIED',
        'nodedev',
        `cannot ${what} from qemu:///session: it changes the host (use qemu:///system)`,
      );
  }

  /** Whether the host uses a device (the detach refusals), without detaching it. */
  async checkUnused(dev: NodeDeviceRef): Promise<void> {
    await checkUnused(await this.#pci(dev, 'check'), this.#src);
  }

  async #pci(dev: NodeDeviceRef, what: string): Promise<HostDevice> {
    const d = await this.#find(dev.name);
    if (!d.caps.includes('pci'))
      throw new VirError('INVALID_ARG', 'nodedev', `device '${d.name}' is not a PCI device`, {
        field: 'name',
      });
    if (!this.#privileged && what !== 'check')
      throw new VirError(
        'OPERATION_DENIED',
        'nodedev',
        `cannot ${what} a host device from qemu:///session: it changes the host (use qemu:///system)`,
      );
    return d;
  }
}

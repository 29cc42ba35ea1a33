/**
 * Host devices on a connection: `conn.nodeDevices` (list by capability,
 * lookup) and {@link NodeDevice} handles (libvirt's `virNodeDevicePtr`).
 *
 * @module
 */
import { NodeDeviceDef } from './conf/nodedev/nodedev-def.js';
import {
  type CallOptions,
  NODE_DEVICE_CAPS,
  type NodeDeviceCapName,
  type NodeDeviceDriver,
  type NodeDeviceEvent,
  type NodeDeviceRef,
  type ObjectEventOptions,
  type ObjectOwner,
} from './driver-objects.js';
import { VirError } from './errors.js';
import { checkName } from './object-args.js';

type Run<T> = (d: NodeDeviceDriver, signal: AbortSignal) => Promise<T>;

function call<T>(owner: ObjectOwner, what: string, opts: CallOptions, run: Run<T>): Promise<T> {
  return owner._objectCall('nodeDevices', what, opts, run);
}

/** `conn.nodeDevices`: the host's devices as the driver sees them. */
export class NodeDevices<C extends ObjectOwner = ObjectOwner> {
  readonly #conn: C;

  /** @internal made by `Connection` */
  constructor(conn: C) {
    this.#conn = conn;
  }

  /**
   * Device events as an async iterator, buffered like `conn.events()`:
   * `created` and `deleted` as devices appear and go, `updated` when one
   * changes (its driver after a detach or re-attach). `NO_SUPPORT` where the
   * driver delivers none. The QEMU driver finds them by reading sysfs every
   * two seconds while a stream is open (no udev monitor in Node), so a
   * device that comes and goes within one interval is not seen.
   */
  events(options: ObjectEventOptions<NodeDeviceEvent> = {}) {
    return this.#conn._objectEvents('nodeDevices', options);
  }

  /**
   * The devices with one of the given capabilities (`pci`, `usb_device`,
   * `net`, `scsi_host`, `mdev`, ...), or every device; as
   * `virConnectListAllNodeDevices`, a nested capability (`fc_host`,
   * `vports` inside `scsi_host`) counts too.
   */
  async list(
    filter: { cap?: NodeDeviceCapName | readonly NodeDeviceCapName[] } = {},
    opts: CallOptions = {},
  ): Promise<NodeDevice<C>[]> {
    const caps = filter.cap === undefined ? [] : [filter.cap].flat();
    for (const c of caps) {
      if (!(NODE_DEVICE_CAPS as readonly string[]).includes(c))
        throw new VirError('INVALID_ARG', 'nodedev', `unknown node device capability '${String(c)}'`, {
          field: 'cap',
        });
    }
    const refs = await call(this.#conn, 'listNodeDevices', opts, (d, signal) =>
      d.listNodeDevices({ caps }, { signal }),
    );
    return refs.map((r) => new NodeDevice(this.#conn, r));
  }

  /**
   * Makes a device from `<device>` XML (`virNodeDeviceCreateXML`). The QEMU
   * driver makes mediated devices (`<parent>` and `<capability
   * type='mdev'><type id='…'/>`, a `<uuid>` or a new one) on
   * `qemu:///system`; a parent without mediated device types is
   * `NO_SUPPORT` naming it.
   */
  async create(xml: string, opts: CallOptions = {}): Promise<NodeDevice<C>> {
    this.#conn._writable('create a node device');
    const text = checkName(xml, 'xml', 'nodedev');
    const ref = await call(this.#conn, 'createNodeDevice', opts, (d, signal) =>
      d.createNodeDevice
        ? d.createNodeDevice(text, { signal })
        : Promise.reject(new VirError('NO_SUPPORT', 'nodedev', 'this driver cannot create host devices')),
    );
    return new NodeDevice(this.#conn, ref);
  }

  /** By name (`pci_0000_00_02_0`, `computer`); `NO_NODE_DEVICE` when none has it. */
  async lookup(name: string, opts: CallOptions = {}): Promise<NodeDevice<C>> {
    const n = checkName(name, 'name', 'nodedev');
    const ref = await call(this.#conn, 'lookupNodeDevice', opts, (d, signal) =>
      d.lookupNodeDevice(n, { signal }),
    );
    return new NodeDevice(this.#conn, ref);
  }
}

/** One host device (`virNodeDevicePtr`). */
export class NodeDevice<C extends ObjectOwner = ObjectOwner> {
  readonly #conn: C;
  readonly #ref: NodeDeviceRef;

  /** @internal handles come from `conn.nodeDevices` */
  constructor(conn: C, ref: NodeDeviceRef) {
    this.#conn = conn;
    this.#ref = ref;
  }

  /** The device's name, as libvirt makes it (`pci_0000_00_02_0`, `net_eth0_52_54_00_...`, `computer`). */
  get name(): string {
    return this.#ref.name;
  }

  /** The connection the handle was made on. */
  get connection(): C {
    return this.#conn;
  }

  /** The device's `<device>` XML (`virNodeDeviceGetXMLDesc`). */
  getXML(opts: CallOptions = {}): Promise<string> {
    return call(this.#conn, 'getNodeDeviceXML', opts, (d, signal) =>
      d.nodeDeviceGetXml(this.#ref, { signal }),
    );
  }

  /** The device, typed: its parent, driver and capabilities. */
  async getDefinition(opts: CallOptions = {}): Promise<NodeDeviceDef> {
    return NodeDeviceDef.fromXML(await this.getXML(opts));
  }

  /** The parent device's name; undefined for the root. */
  getParent(opts: CallOptions = {}): Promise<string | undefined> {
    return call(this.#conn, 'getNodeDeviceParent', opts, (d, signal) =>
      d.nodeDeviceGetParent(this.#ref, { signal }),
    );
  }

  /** The top-level capability names (`virNodeDeviceListCaps`). */
  listCaps(opts: CallOptions = {}): Promise<string[]> {
    return call(this.#conn, 'listNodeDeviceCaps', opts, (d, signal) =>
      d.nodeDeviceListCaps(this.#ref, { signal }),
    );
  }

  /**
   * Takes this PCI device from its host driver so a guest can have it
   * (`virNodeDeviceDetachFlags`): bound to `driverName`, default `vfio-pci`.
   * The QEMU driver refuses a device the host uses (an interface that is up
   * or has addresses, a mounted disk, the boot disk) with `OPERATION_INVALID`.
   */
  detach(opts: CallOptions & { driverName?: string } = {}): Promise<void> {
    if (opts.driverName !== undefined && (typeof opts.driverName !== 'string' || opts.driverName === ''))
      return Promise.reject(
        new VirError('INVALID_ARG', 'nodedev', 'driverName must be a non-empty string', {
          field: 'driverName',
        }),
      );
    return call(this.#conn, 'detachNodeDevice', opts, (d, signal) =>
      optional(d.nodeDeviceDetach?.bind(d), 'detach')(this.#ref, {
        signal,
        ...(opts.driverName !== undefined ? { driverName: opts.driverName } : {}),
      }),
    );
  }

  /** Gives a detached PCI device back to its host driver (`virNodeDeviceReAttach`). */
  reattach(opts: CallOptions = {}): Promise<void> {
    return call(this.#conn, 'reattachNodeDevice', opts, (d, signal) =>
      optional(d.nodeDeviceReAttach?.bind(d), 'reattach')(this.#ref, { signal }),
    );
  }

  /** Removes a device made by `nodeDevices.create` (`virNodeDeviceDestroy`): a mediated device. */
  destroy(opts: CallOptions = {}): Promise<void> {
    this.#conn._writable('destroy a node device');
    return call(this.#conn, 'destroyNodeDevice', opts, (d, signal) =>
      optional(d.nodeDeviceDestroy?.bind(d), 'destroy')(this.#ref, { signal }),
    );
  }

  /** Resets a detached PCI device (`virNodeDeviceReset`). */
  reset(opts: CallOptions = {}): Promise<void> {
    return call(this.#conn, 'resetNodeDevice', opts, (d, signal) =>
      optional(d.nodeDeviceReset?.bind(d), 'reset')(this.#ref, { signal }),
    );
  }
}

/** A call the driver may lack, bound to it; `NO_SUPPORT` naming it when it does. */
function optional<A extends unknown[]>(
  fn: ((...args: A) => Promise<void>) | undefined,
  what: string,
): (...args: A) => Promise<void> {
  return (
    fn ??
    (() => Promise.reject(new VirError('NO_SUPPORT', 'nodedev', `this driver cannot ${what} host devices`)))
  );
}

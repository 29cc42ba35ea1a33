/**
 * The test driver's host devices: libvirt's test driver's four (`computer`,
 * the fibre-channel hosts `scsi_host1` and `scsi_host2`, and the vHBA
 * `scsi_host11` on `scsi_host1`), read-only. Listing by capability counts
 * the nested capabilities as libvirt does: a `scsi_host` with an
 * `fc_host` part is listed under `fc_host`, one with `vport_ops` under
 * `vports`. Creating and destroying vHBAs and detaching devices are not
 * offered.
 *
 * @module
 */
import { NodeDeviceDef } from '../../conf/nodedev/nodedev-def.js';
import type { NodeDeviceCapName, NodeDeviceDriver, NodeDeviceRef } from '../../driver-objects.js';
import { VirError } from '../../errors.js';
import { parseXml } from '../../xml/parse.js';
import type { XmlElement } from '../../xml/tree.js';

/** Nested capability elements and the filter name each answers to. */
const NESTED: Readonly<Record<string, NodeDeviceCapName>> = {
  fc_host: 'fc_host',
  vport_ops: 'vports',
  mdev_types: 'mdev_types',
  vpd: 'vpd',
};

function fcHost(
  name: string,
  parent: string,
  host: number,
  uid: number,
  wwn: string,
  fabric: string,
  vports: boolean,
): string {
  return `<device>
  <name>${name}</name>
  <parent>${parent}</parent>
  <capability type='scsi_host'>
    <host>${host}</host>
    <unique_id>${uid}</unique_id>
    <capability type='fc_host'>
      <wwnn>2${wwn}</wwnn>
      <wwpn>1${wwn}</wwpn>
      <fabric_wwn>${fabric}</fabric_wwn>
    </capability>${
      vports
        ? `
    <capability type='vport_ops'>
      <max_vports>0</max_vports>
      <vports>0</vports>
    </capability>`
        : ''
    }
  </capability>
</device>`;
}

/** libvirt's test driver devices, in the order it lists them. */
export const DEFAULT_NODE_DEVICES: readonly string[] = [
  fcHost('scsi_host11', 'scsi_host1', 11, 10, '000000034563456', '2000000043214321', false),
  fcHost('scsi_host1', 'computer', 1, 0, '000000012341234', '2000000043214321', true),
  `<device>
  <name>computer</name>
  <capability type='system'>
    <hardware>
      <vendor>Libvirt</vendor>
      <version>Test driver</version>
      <serial>123456</serial>
      <uuid>11111111-2222-3333-4444-555555555555</uuid>
    </hardware>
    <firmware>
      <vendor>Libvirt</vendor>
      <version>Test Driver</version>
      <release_date>01/22/2007</release_date>
    </firmware>
  </capability>
</device>`,
  fcHost('scsi_host2', 'computer', 2, 1, '000000056785678', '2000000087658765', true),
];

interface TestDevice {
  readonly def: NodeDeviceDef;
  readonly xml: string;
  /** Top-level capability types, in order. */
  readonly caps: readonly string[];
  /** Every filter name the device answers to. */
  readonly matches: ReadonlySet<string>;
}

function capsOf(el: XmlElement): { top: string[]; all: Set<string> } {
  const top: string[] = [];
  const all = new Set<string>();
  const kids = (e: XmlElement) =>
    e.children.filter((c): c is XmlElement => c.type === 'element' && c.name === 'capability');
  for (const cap of kids(el)) {
    const type = cap.attrs.find((a) => a.name === 'type')?.value;
    if (type === undefined) continue;
    top.push(type);
    all.add(type);
    for (const sub of kids(cap)) {
      const t = sub.attrs.find((a) => a.name === 'type')?.value;
      const name = t === undefined ? undefined : NESTED[t];
      if (name) all.add(name);
    }
  }
  return { top, all };
}

export class TestNodeDevices implements NodeDeviceDriver {
  readonly #devices = new Map<string, TestDevice>();

  constructor(initial: readonly string[] = DEFAULT_NODE_DEVICES) {
    for (const xml of initial) {
      const def = NodeDeviceDef.fromXML(xml);
      const { top, all } = capsOf(parseXml(xml));
      this.#devices.set(def.name!, { def, xml: def.toXML(), caps: top, matches: all });
    }
  }

  #find(name: string): TestDevice {
    const d = this.#devices.get(name);
    if (!d) throw new VirError('NO_NODE_DEVICE', 'nodedev', `no node device with matching name '${name}'`);
    return d;
  }

  async listNodeDevices(filter: { caps?: readonly NodeDeviceCapName[] }): Promise<NodeDeviceRef[]> {
    const caps = filter.caps ?? [];
    return [...this.#devices.values()]
      .filter((d) => caps.length === 0 || caps.some((c) => d.matches.has(c)))
      .map((d) => ({ name: d.def.name! }));
  }

  async lookupNodeDevice(name: string): Promise<NodeDeviceRef> {
    return { name: this.#find(name).def.name! };
  }

  async nodeDeviceGetXml(dev: NodeDeviceRef): Promise<string> {
    return this.#find(dev.name).xml;
  }

  async nodeDeviceGetParent(dev: NodeDeviceRef): Promise<string | undefined> {
    return this.#find(dev.name).def.parent?.name;
  }

  async nodeDeviceListCaps(dev: NodeDeviceRef): Promise<string[]> {
    return [...this.#find(dev.name).caps];
  }
}

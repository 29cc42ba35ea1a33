/**
 * SCSI hosts, targets and devices (`/sys/bus/scsi/devices`) and SCSI
 * generic nodes (`/sys/class/scsi_generic`) as libvirt's udev backend
 * reports them: `scsi_host<N>` (its `unique_id`, and for a Fibre Channel
 * HBA its WWNs and NPIV vport counts from `/sys/class/fc_host`),
 * `scsi_target<H>_<B>_<T>` (with the FC remote port it sits behind),
 * `scsi_<H>_<B>_<T>_<L>` (its peripheral type by name) and
 * `scsi_generic_sg<N>`. The kernel's `uevent` `DEVTYPE` says which each
 * bus entry is.
 *
 * @module
 */
import { access, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { XmlElement } from '../../../xml/tree.js';
import {
  deviceName,
  driverEl,
  driverOf,
  el,
  type FoundDevice,
  type HostDeviceSources,
  list,
  read,
  readInt,
  textEl,
  uevent,
} from './sysfs.js';

/** The SCSI peripheral device types libvirt names (SPC's numbers, as Linux's scsi.h has them). */
const SCSI_TYPES: Record<number, string> = {
  0: 'disk',
  1: 'tape',
  3: 'processor',
  4: 'worm',
  5: 'cdrom',
  6: 'scanner',
  7: 'mod',
  8: 'changer',
  12: 'raid',
  13: 'enclosure',
};

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** An fc_host attribute as libvirt reads it: first line, from its `0x` on. */
async function fcValue(path: string): Promise<string | undefined> {
  const text = (await read(path))?.split('\n')[0];
  if (text === undefined) return undefined;
  const i = text.indexOf('0x');
  return i >= 0 ? text.slice(i + 2) : text;
}

/** `<host>`, `<unique_id>`, and the `fc_host` / `vport_ops` capabilities; the nested cap names. */
async function hostCaps(
  src: HostDeviceSources,
  n: number,
): Promise<{ body: XmlElement[]; nested: string[] }> {
  const body = [textEl('host', String(n))];
  const nested: string[] = [];
  const uid = await readInt(join(src.sysRoot, 'class/scsi_host', `host${n}`, 'unique_id'), 10);
  if (uid !== undefined) body.push(textEl('unique_id', String(uid)));
  const fc = join(src.sysRoot, 'class/fc_host', `host${n}`);
  const caps: XmlElement[] = [];
  let ok = true;
  if (await exists(fc)) {
    const wwpn = await fcValue(join(fc, 'port_name'));
    const wwnn = await fcValue(join(fc, 'node_name'));
    const fabric = await fcValue(join(fc, 'fabric_name'));
    if (wwpn === undefined || wwnn === undefined) ok = false;
    else {
      nested.push('fc_host');
      caps.push(
        el('capability', { type: 'fc_host' }, [
          textEl('wwnn', wwnn),
          textEl('wwpn', wwpn),
          ...(fabric === undefined ? [] : [textEl('fabric_wwn', fabric)]),
        ]),
      );
    }
  }
  const vportCapable =
    (await exists(join(fc, 'vport_create'))) ||
    (await exists(join(src.sysRoot, 'class/scsi_host', `host${n}`, 'vport_create')));
  if (ok && vportCapable) {
    const max = await readInt(join(fc, 'max_npiv_vports'), 10);
    const used = await readInt(join(fc, 'npiv_vports_inuse'), 10);
    if (max === undefined || used === undefined) ok = false;
    else {
      nested.push('vports');
      caps.push(
        el('capability', { type: 'vport_ops' }, [
          textEl('max_vports', String(max)),
          textEl('vports', String(used)),
        ]),
      );
    }
  }
  // libvirt drops both nested capabilities when reading either fails
  return ok ? { body: [...body, ...caps], nested } : { body, nested: [] };
}

/** A target behind an FC remote port (`…/rport-H:B-R/targetH:B:T`): the port and its WWPN. */
async function targetCaps(src: HostDeviceSources, dir: string): Promise<XmlElement[]> {
  const rport = basename(dirname(dir));
  if (!rport.startsWith('rport-')) return [];
  const port = join(src.sysRoot, 'class/fc_remote_ports', rport);
  const wwpn = (await exists(port)) ? await fcValue(join(port, 'port_name')) : undefined;
  if (wwpn === undefined) return [];
  return [el('capability', { type: 'fc_remote_port' }, [textEl('rport', rport), textEl('wwpn', wwpn)])];
}

async function scsiBusDevice(
  src: HostDeviceSources,
  dir: string,
  ev: Map<string, string>,
): Promise<FoundDevice | undefined> {
  const sysname = basename(dir);
  const type = ev.get('DEVTYPE');
  const driver = ev.get('DRIVER') ?? (await driverOf(dir));
  const base = { name: deviceName('scsi', sysname), sysfsPath: dir, driver };
  if (type === 'scsi_host') {
    const m = /^host(\d+)$/.exec(sysname);
    if (!m) return undefined;
    const { body, nested } = await hostCaps(src, Number(m[1]));
    return {
      ...base,
      caps: ['scsi_host', ...nested],
      body: [...driverEl(driver), el('capability', { type: 'scsi_host' }, body)],
    };
  }
  if (type === 'scsi_target') {
    return {
      ...base,
      caps: ['scsi_target'],
      body: [
        ...driverEl(driver),
        el('capability', { type: 'scsi_target' }, [
          textEl('target', sysname),
          ...(await targetCaps(src, dir)),
        ]),
      ],
    };
  }
  if (type === 'scsi_device') {
    const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(sysname);
    if (!m) return undefined;
    const peripheral = await readInt(join(dir, 'type'), 10);
    const name = peripheral === undefined ? undefined : SCSI_TYPES[peripheral];
    return {
      ...base,
      caps: ['scsi'],
      body: [
        ...driverEl(driver),
        el('capability', { type: 'scsi' }, [
          textEl('host', m[1]!),
          textEl('bus', m[2]!),
          textEl('target', m[3]!),
          textEl('lun', m[4]!),
          ...(name ? [textEl('type', name)] : []),
        ]),
      ],
    };
  }
  return undefined;
}

/** Every SCSI host, target, device and generic node on the host. */
export async function scsiDevices(src: HostDeviceSources): Promise<FoundDevice[]> {
  const out: FoundDevice[] = [];
  const bus = join(src.sysRoot, 'bus/scsi/devices');
  for (const entry of await list(bus)) {
    const dir = await realpath(join(bus, entry)).catch(() => undefined);
    if (!dir) continue;
    const dev = await scsiBusDevice(src, dir, await uevent(dir));
    if (dev) out.push(dev);
  }
  const sg = join(src.sysRoot, 'class/scsi_generic');
  for (const entry of await list(sg)) {
    const dir = await realpath(join(sg, entry)).catch(() => undefined);
    if (!dir) continue;
    const devname = (await uevent(dir)).get('DEVNAME');
    if (!devname) continue;
    out.push({
      name: deviceName('scsi_generic', entry),
      sysfsPath: dir,
      caps: ['scsi_generic'],
      driver: undefined,
      devnodes: [textEl('devnode', `/dev/${devname}`, { type: 'dev' })],
      body: [el('capability', { type: 'scsi_generic' }, [textEl('char', `/dev/${devname}`)])],
    });
  }
  return out;
}

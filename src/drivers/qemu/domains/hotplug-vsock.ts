/**
 * Live hotplug of a `<vsock>` (vhost-vsock-pci), as libvirt's
 * `qemuDomainAttachVsockDevice` and `qemuDomainDetachPrepVsock` do it: one
 * per guest, alias `vsock0`, its PCI address from the define-time pass, the
 * guest CID given or, with `auto='yes'`, the lowest free one from 3 up.
 *
 * libvirt opens `/dev/vhost-vsock`, claims the CID on that descriptor
 * (`VHOST_VSOCK_SET_GUEST_CID`, the next number while the kernel answers
 * "in use") and hands QEMU the descriptor. Node.js can neither issue that
 * ioctl nor pass a descriptor over the monitor socket, so here the host
 * device is first opened (and closed) to refuse, with a typed error naming
 * it, a host where it cannot be; QEMU then opens it itself and sets the CID
 * as it realizes the device; an automatic CID skips the CIDs of this
 * driver's guests and moves on while QEMU reports the CID taken (by a guest
 * of another manager).
 *
 * @module
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FoundDevice } from '../../../conf/domain/device-edit.js';
import type { VsockDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { machineFacts } from '../../../machine/machine-types.js';
import { pciProps, virtioDriverProps, virtioModel } from '../command-line/device-props.js';
import type { QmpClient } from '../qmp/index.js';
import { refuseUnknownBus } from './hotplug-hostdev.js';

/** The host device a vsock needs. */
export const VHOST_VSOCK = '/dev/vhost-vsock';
/** CIDs 0-2 are the hypervisor's, reserved and the host's. */
const FIRST_CID = 3;
/** How many CIDs an automatic CID tries past those this driver knows are taken. */
const CID_TRIES = 64;
/** The one vsock's id (libvirt's alias). */
export const VSOCK_ALIAS = 'vsock0';

/** Refuses a second vsock, and a vsock QEMU could not get a descriptor for. */
export async function refuseVsockPlug(base: DomainDef, v: VsockDef, field: string, path = VHOST_VSOCK) {
  if (base.devices?.vsock)
    throw new VirError('OPERATION_INVALID', 'qemu', 'the domain already has a vsock device', { field });
  if (v.address !== undefined && v.address.type !== 'pci')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'a vsock device is supported on PCI only', {
      field: `${field}/address/@type`,
    });
  if (v.cid?.auto !== true && v.cid?.address === undefined)
    throw new VirError('XML_DETAIL', 'qemu', 'a vsock needs a guest CID or auto', { field: `${field}/cid` });
  if (v.cid?.auto !== true && (v.cid?.address ?? 0) < FIRST_CID)
    throw new VirError(
      'XML_DETAIL',
      'qemu',
      `guest CID ${v.cid?.address} is reserved (guest CIDs start at 3)`,
      {
        field: `${field}/cid/@address`,
      },
    );
  refuseUnknownBus(base, v.address, field);
  try {
    const fh = await open(path, constants.O_RDWR);
    await fh.close();
  } catch (err) {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `unable to open vhost-vsock device ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { field, cause: err },
    );
  }
}

/** Whether QEMU refused the device because another guest has the CID. */
function cidTaken(err: unknown): boolean {
  return err instanceof VirError && /address already in use|EADDRINUSE/i.test(err.message);
}

/**
 * Plugs the vsock `added` of `next`; an automatic CID starts at the lowest
 * one none of `taken` has. Writes the CID the guest got into the device.
 */
export async function plugVsock(
  qmp: QmpClient,
  next: DomainDef,
  added: FoundDevice,
  taken: ReadonlySet<number>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const v = added.device as VsockDef;
  const facts = machineFacts(next.os?.type?.machine ?? '');
  const auto = v.cid?.auto === true;
  let cid = auto ? FIRST_CID : (v.cid?.address as number);
  const args = (n: number) => ({
    driver: virtioModel('vhost-vsock-pci', v.model),
    ...virtioDriverProps(v.driver),
    id: VSOCK_ALIAS,
    'guest-cid': n,
    ...pciProps(v.address, facts),
  });
  for (let tries = 0; ; tries++) {
    while (auto && taken.has(cid)) cid++;
    try {
      await qmp.execute('device_add', args(cid), signal ? { signal } : {});
      break;
    } catch (err) {
      if (!auto || !cidTaken(err) || tries >= CID_TRIES) throw err;
      cid++;
    }
  }
  v.cid = { ...(v.cid ?? {}), address: cid };
}

/** The CIDs the vsocks of these definitions have. */
export function vsockCids(defs: Iterable<DomainDef | undefined>): Set<number> {
  const out = new Set<number>();
  for (const d of defs) {
    const c = d?.devices?.vsock?.cid?.address;
    if (c !== undefined) out.add(c);
  }
  return out;
}

/**
 * `<vsock>`: a vhost-vsock device, the guest's end of AF_VSOCK. The host
 * side is a descriptor open on `/dev/vhost-vsock` with the guest's context
 * id (CID) set on it, which the caller provides (`paths.vhostVsock`): QEMU
 * is only handed the descriptor, as libvirt does.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import { type Props, pciProps, virtioDriverProps, virtioModel } from './device-props.js';
import type { CommandLinePaths } from './types.js';

/** CIDs 0-2 are the hypervisor's, reserved and the host's: a guest's starts at 3. */
const FIRST_GUEST_CID = 3;

export function buildVsock(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  paths: CommandLinePaths,
): void {
  const v = def.devices?.vsock;
  if (!v) return;
  const field = '/domain/devices/vsock';
  const auto = v.cid?.auto === true;
  const want = v.cid?.address;
  if (!auto && want === undefined)
    throw new VirError('XML_DETAIL', 'qemu', 'a vsock needs a guest CID or auto', { field: `${field}/cid` });
  if (want !== undefined && want < FIRST_GUEST_CID)
    throw new VirError('XML_DETAIL', 'qemu', `guest CID ${want} is reserved (guest CIDs start at 3)`, {
      field: `${field}/cid/@address`,
    });
  if (v.address !== undefined && v.address.type !== 'pci')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'a vsock device is supported on PCI only', {
      field: `${field}/address/@type`,
    });
  if (!paths.vhostVsock)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      'a vsock needs a /dev/vhost-vsock descriptor from the host',
      {
        field,
      },
    );
  const host = paths.vhostVsock({ auto, ...(want !== undefined ? { cid: want } : {}) });
  const p: Props = {
    driver: virtioModel('vhost-vsock-pci', v.model),
    ...virtioDriverProps(v.driver),
    id: 'vsock0',
    'guest-cid': host.cid,
    vhostfd: String(host.fd),
    ...pciProps(v.address, facts),
  };
  b.props('-device', p, field);
}

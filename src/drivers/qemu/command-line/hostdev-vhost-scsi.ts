/**
 * `<hostdev type='scsi_host'>` with `protocol='vhost'`: a SCSI target of the
 * host's LIO vhost fabric, given to the guest as a vhost-scsi device. QEMU
 * is handed a descriptor open on `/dev/vhost-scsi` (the caller opens it,
 * `paths.vhostScsiFd`) and the target's WWPN.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { HostdevDef } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import { type Props, virtioModel } from './device-props.js';
import { checkValue } from './escape.js';
import type { CommandLinePaths } from './types.js';

/** A vhost target's WWPN: `naa.` and 16 hex digits. */
const WWPN_RE = /^naa\.[0-9a-fA-F]{16}$/;

export function vhostScsiProps(
  h: HostdevDef,
  id: string,
  field: string,
  paths: Pick<CommandLinePaths, 'vhostScsiFd'>,
): Props {
  const refuse = (what: string, at: string): never => {
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: ${what}`, { field: `${field}${at}` });
  };
  const src = h.source ? unknownContent(h.source)?.attrs : undefined;
  const attr = (name: string) => src?.find((a) => a.name === name)?.value;
  if (attr('protocol') !== 'vhost') refuse("a scsi_host device needs protocol='vhost'", '/source/@protocol');
  const wwpn = checkValue(attr('wwpn') ?? '', `${field}/source/@wwpn`);
  if (!WWPN_RE.test(wwpn))
    throw new VirError(
      'XML_DETAIL',
      'qemu',
      `${field}: '${wwpn}' is not a vhost WWPN (naa. and 16 hex digits)`,
      {
        field: `${field}/source/@wwpn`,
      },
    );
  if (
    h.model !== undefined &&
    !['virtio', 'virtio-transitional', 'virtio-non-transitional'].includes(h.model)
  )
    refuse(`vhost-scsi model '${h.model}' is not supported`, '/@model');
  if (h.address !== undefined && h.address.type !== 'pci')
    refuse('vhost-scsi sits on PCI only', '/address/@type');
  if (h.boot !== undefined) refuse('a vhost-scsi device takes no boot order', '/boot');
  if (h.sgio !== undefined) refuse('sgio is for SCSI host devices of type scsi', '/@sgio');
  if (h.rawio !== undefined) refuse('rawio is for SCSI host devices of type scsi', '/@rawio');
  if (h.rom !== undefined) refuse('ROM tuning is not supported for vhost-scsi', '/rom');
  if (!paths.vhostScsiFd) refuse('vhost-scsi needs a /dev/vhost-scsi descriptor from the host', '');
  return {
    driver: virtioModel('vhost-scsi-pci', h.model),
    wwpn,
    vhostfd: String(paths.vhostScsiFd?.(wwpn)),
    id,
  };
}

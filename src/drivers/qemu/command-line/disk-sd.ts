/**
 * SD card disks (`<target bus='sd'>`): QEMU has no `-device` for them, so
 * libvirt still writes a legacy `-drive if=sd,index=N`, the card's index
 * from its target name. The drive opens the image itself; only local
 * images (file, block, dir) with no explicit backing chain, encryption,
 * credentials or throttling are written, anything else is refused.
 *
 * @module
 */
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import { diskNameIndex } from '../../../conf/domain/normalize-devices.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import { diskLayers } from './disk-layers.js';
import { optList, optValue } from './escape.js';

function refuse(what: string, field: string): never {
  throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${what} is not supported on an SD card disk`, { field });
}

/** detect-zeroes as QEMU takes it: 'unmap' only with discard='unmap'. */
function detectZeroes(d: DiskDef): string | undefined {
  const dz = d.driver?.detectZeroes;
  return dz === 'unmap' && d.driver?.discard !== 'unmap' ? 'on' : dz;
}

/** Writes the `-drive` of one SD card disk. */
export function buildSdDrive(b: ArgvBuilder, d: DiskDef, field: string): void {
  const index = diskNameIndex(d.target.dev);
  if (index === undefined)
    throw new VirError('XML_DETAIL', 'qemu', `can't take an SD card index from '${d.target.dev}'`, {
      field: `${field}/target/@dev`,
    });
  const top = diskLayers(d, field);
  const items: Array<string | undefined> = [];
  if (top) {
    if (top.type !== 'file' && top.type !== 'block' && top.type !== 'dir')
      refuse(`disk type '${top.type}'`, `${field}/@type`);
    if (top.backing) refuse('an explicit backing chain', `${field}/backingStore`);
    if (top.encryption) refuse('encryption', top.encryption.field);
    if (top.auth) refuse('<auth>', top.auth.field);
    const attr = top.type === 'file' ? 'file' : top.type === 'block' ? 'dev' : 'dir';
    const path = optValue(top.path ?? '', `${field}/source/@${attr}`);
    const dir = top.type === 'dir' ? `fat:${d.device === 'floppy' ? 'floppy:' : ''}` : '';
    items.push(`file=${dir}${path}`);
    // QEMU reads a directory through vvfat: no format of its own.
    if (top.type !== 'dir' && top.format !== undefined)
      items.push(`format=${optValue(top.format, `${field}/driver/@type`)}`);
  }
  items.push('if=sd', `index=${index}`);
  if (d.readonly !== undefined) items.push('readonly=on');
  if (top) {
    const drv = d.driver;
    if (drv?.cache !== undefined && drv.cache !== 'default') items.push(`cache=${drv.cache}`);
    if (drv?.copyOnRead !== undefined) items.push(`copy-on-read=${drv.copyOnRead ? 'on' : 'off'}`);
    if (drv?.discard !== undefined) items.push(`discard=${drv.discard}`);
    const dz = detectZeroes(d);
    if (dz !== undefined) items.push(`detect-zeroes=${dz}`);
    if (drv?.io !== undefined) items.push(`aio=${drv.io}`);
  }
  refuseUnwritten(d, field);
  b.add('-drive', optList(items));
}

/** What a `-drive if=sd` has no option for: refused, naming it. */
function refuseUnwritten(d: DiskDef, field: string): void {
  const drv = d.driver;
  if (drv?.errorPolicy !== undefined) refuse('an error policy', `${field}/driver/@error_policy`);
  if (drv?.rerrorPolicy !== undefined) refuse('a read error policy', `${field}/driver/@rerror_policy`);
  if (d.iotune !== undefined) refuse('<iotune>', `${field}/iotune`);
  if (d.throttleFilters !== undefined) refuse('<throttlefilters>', `${field}/throttlefilters`);
  if (d.serial !== undefined) refuse('a serial number', `${field}/serial`);
  if (d.boot !== undefined) refuse('a boot order', `${field}/boot`);
  if (d.shareable !== undefined) refuse('<shareable/>', `${field}/shareable`);
  if (d.wwn !== undefined) refuse('a WWN', `${field}/wwn`);
  if (d.vendor !== undefined) refuse('a vendor', `${field}/vendor`);
  if (d.product !== undefined) refuse('a product', `${field}/product`);
  if (d.address !== undefined) refuse('an address', `${field}/address`);
}

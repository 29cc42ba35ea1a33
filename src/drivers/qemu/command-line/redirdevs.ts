/**
 * `<redirdev bus='usb'>`: a usb-redir device on a USB port, fed by a
 * character backend (SPICE's usbredir channel, D-Bus, a TCP or UNIX
 * socket speaking the usbredir protocol), with the domain's
 * `<redirfilter>` as its filter.
 *
 * @module
 */
import type { RedirfilterDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { QemuCapabilityFlag } from '../probe/capability-flag-names.js';
import { hasFlag, type QemuCaps } from '../probe/qemu-caps.js';
import type { ArgvBuilder } from './argv-builder.js';
import { buildChardev } from './chardev-backend.js';
import type { Props } from './device-props.js';
import type { CommandLinePaths } from './types.js';
import type { UsbAddrFn } from './usb-addresses.js';

export function buildRedirdevs(
  b: ArgvBuilder,
  def: DomainDef,
  boot: Map<object, number>,
  paths: CommandLinePaths,
  usbAddr: UsbAddrFn,
  caps?: QemuCaps,
): void {
  const dev = def.devices ?? {};
  if (!dev.redirdevs?.length) return;
  // Without the probe's flags (a hand-made caps) the device is assumed there.
  const lacks = (flag: QemuCapabilityFlag) => caps?.flags !== undefined && !hasFlag(caps, flag);
  if (lacks('usb-redir'))
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'USB redirection is not supported by this QEMU', {
      field: '/domain/devices/redirdev[1]',
    });
  if (dev.redirfilter?.usbdevs?.length && lacks('usb-redir.filter'))
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      'USB redirection filters are not supported by this QEMU',
      {
        field: '/domain/devices/redirfilter',
      },
    );
  const filter = dev.redirfilter ? usbredirFilter(dev.redirfilter) : undefined;
  for (const [i, r] of (dev.redirdevs ?? []).entries()) {
    const field = `/domain/devices/redirdev[${i + 1}]`;
    if (r.address && r.address.type !== 'usb')
      throw new VirError('XML_DETAIL', 'qemu', `${field}: a USB device needs a USB address`, {
        field: `${field}/address/@type`,
      });
    // SPICE's usbredir channel exists only with a SPICE display to carry it.
    if (r.type === 'spicevmc' && !(dev.graphics ?? []).some((g) => g.type === 'spice'))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: a spicevmc redirdev needs SPICE graphics`, {
        field: `${field}/@type`,
      });
    const alias = `redir${i}`;
    buildChardev({ b, paths, qemuVersion: b.qemuVersion }, r, `char${alias}`, alias, field, 'usbredir');
    const p: Props = { driver: 'usb-redir', chardev: `char${alias}`, id: alias };
    if (filter !== undefined) p.filter = filter;
    p.bootindex = boot.get(r);
    b.props('-device', { ...p, ...usbAddr(r) }, field);
  }
}

/**
 * usb-redir's filter: `class:vendor:product:version:allow` rules joined
 * by `|`, `-1` for "any", in the order given (the first match decides).
 */
function usbredirFilter(f: RedirfilterDef): string | undefined {
  const rules = (f.usbdevs ?? []).map((u) => {
    const hex = (n: number | undefined, width: number) =>
      n === undefined ? '-1' : `0x${n.toString(16).toUpperCase().padStart(width, '0')}`;
    return [
      hex(u.class, 2),
      hex(u.vendor, 4),
      hex(u.product, 4),
      hex(u.version, 4),
      u.allow ? '1' : '0',
    ].join(':');
  });
  return rules.length > 0 ? rules.join('|') : undefined;
}

/**
 * `-boot` and direct kernel boot: the boot menu and reboot timeout, then
 * `-kernel`, `-initrd`, `-append`, `-dtb` and the extra ACPI tables, in
 * libvirt's order. Kernel, initrd, cmdline and dtb are whole arguments
 * (QEMU does not split them), so they are only checked for characters no
 * command line can carry; an ACPI table path sits in an option list and
 * has its commas doubled.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { ArgvBuilder } from './argv-builder.js';
import { checkValue, optValue } from './escape.js';

/** The ACPI table signature QEMU is given for each table type; raw tables carry their own. */
const ACPI_SIGNATURE: Record<string, string | undefined> = { slic: 'SLIC', msdm: 'MSDM' };

export function buildBoot(b: ArgvBuilder, def: DomainDef): void {
  const os = def.os;
  const items: string[] = [];
  const menu = os?.bootmenu;
  if (menu) items.push(`menu=${menu.enable ? 'on' : 'off'}`);
  const reboot = os?.bios?.rebootTimeout;
  if (reboot !== undefined) items.push(`reboot-timeout=${reboot}`);
  if (menu?.enable && menu.timeout !== undefined) items.push(`splash-time=${menu.timeout}`);
  items.push('strict=on');
  b.add('-boot', items.join(','));
  if (os?.kernel !== undefined) b.add('-kernel', checkValue(os.kernel, '/domain/os/kernel'));
  if (os?.initrd !== undefined) b.add('-initrd', checkValue(os.initrd, '/domain/os/initrd'));
  if (os?.cmdline !== undefined) b.add('-append', checkValue(os.cmdline, '/domain/os/cmdline'));
  if (os?.dtb !== undefined) b.add('-dtb', checkValue(os.dtb, '/domain/os/dtb'));
  for (const [i, t] of (os?.acpi?.tables ?? []).entries()) {
    const sig = ACPI_SIGNATURE[t.type];
    const file = optValue(t.path ?? '', `/domain/os/acpi/table[${i + 1}]`);
    b.add('-acpitable', sig ? `sig=${sig},file=${file}` : `file=${file}`);
  }
}

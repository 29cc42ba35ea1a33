/**
 * What a live migration of this driver checks before anything moves:
 * devices whose host side it cannot carry over, the running guest's CPU on
 * the destination (libvirt's rule, through `planFleet`), and the guest's
 * identity on the destination's domain list.
 *
 * Storage is shared, not copied: both QEMUs open the same image paths,
 * which two state roots on one machine always share (no block migration).
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import { describeBlockers, type FleetHostInput, planFleet } from '../../../cpu/index.js';
import { VirError } from '../../../errors.js';
import type { Entry } from './domain-entry.js';
import { isActive } from './domain-entry.js';
import type { DomainTable } from './domain-table.js';

/**
 * Refuses the devices whose state lives in a helper process beside QEMU
 * (the helper would have to move too, and this driver does not move it):
 * an emulated TPM (swtpm's state), virtiofs shares (QEMU itself refuses to
 * migrate vhost-user-fs), passt interfaces (passt's connections) and bridge
 * interfaces (a tap made for the source QEMU). Each is named by its XPath.
 */
export function refuseUnmigratable(def: DomainDef): void {
  const dev = def.devices;
  const refuse = (field: string, what: string): never => {
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `cannot migrate ${what} (${field})`, { field });
  };
  for (const [i, t] of (dev?.tpms ?? []).entries())
    if (t.backend?.type === 'emulator')
      refuse(`/domain/devices/tpm[${i + 1}]/backend/@type`, "an emulated TPM: swtpm's state stays behind");
  for (const [i, fs] of (dev?.filesystems ?? []).entries())
    if (fs.driver?.type === 'virtiofs')
      refuse(`/domain/devices/filesystem[${i + 1}]/driver/@type`, 'a virtiofs share: QEMU cannot move it');
  for (const [i, n] of (dev?.interfaces ?? []).entries()) {
    if (n.type === 'user' && n.backend?.type === 'passt')
      refuse(
        `/domain/devices/interface[${i + 1}]/backend/@type`,
        "a passt interface: passt's state stays behind",
      );
    if (n.type === 'bridge')
      refuse(
        `/domain/devices/interface[${i + 1}]/@type`,
        'a bridge interface: its tap belongs to the source',
      );
  }
}

/**
 * libvirt's CPU rule for an incoming migration, as `planFleet` applies it:
 * the running guest's CPU (its `optional` features the source enabled now
 * `require`d) must be one the destination's hypervisor offers, feature by
 * feature; host-passthrough and maximum guests move only between identical
 * hosts. Refused with `CPU_INCOMPATIBLE` naming the features at fault.
 */
export function checkMigrationCpu(live: DomainDef, source: FleetHostInput, dest: FleetHostInput): void {
  const src = { ...source, name: 'source' };
  const dst = { ...dest, name: 'destination' };
  const plan = planFleet({
    hosts: [src, dst],
    guests: [{ name: live.name, guest: live, source: 'source' }],
    options: { whatIf: false },
  });
  const verdict = plan.guests[0]?.cells[1]?.canReceiveMigration;
  if (!verdict || verdict.ok) return;
  const features = verdict.blockers.map((b) => b.feature).filter((f): f is string => f !== undefined);
  throw new VirError(
    'CPU_INCOMPATIBLE',
    'qemu',
    `the destination cannot take the CPU of '${live.name}'${
      features.length > 0 ? ` (features: ${features.join(', ')})` : ''
    }: ${describeBlockers(verdict)}`,
    { field: '/domain/cpu' },
  );
}

/**
 * The destination's entry for an incoming guest: an inactive definition of
 * the same name and UUID receives it (as libvirt's), anything else that
 * shares its name or UUID is `OPERATION_INVALID`. Undefined: none yet.
 */
export function incomingEntry(table: DomainTable, name: string, uuid: string): Entry | undefined {
  const same = table.byUuid.get(uuid);
  const named = table.byName(name);
  const clash = (why: string): never => {
    throw new VirError('OPERATION_INVALID', 'qemu', `cannot migrate '${name}' to the destination: ${why}`);
  };
  if (same && same.name !== name) clash(`its uuid ${uuid} belongs to domain '${same.name}' there`);
  if (named && named.uuid !== uuid) clash(`a domain of that name exists there with uuid ${named.uuid}`);
  if (same && (isActive(same) || same.runner?.pid !== undefined)) clash('it is already active there');
  return same;
}

/**
 * The two hosts of a live migration as the CPU check reads them: each
 * connection's capabilities (its host CPU) and its domain capabilities for
 * the guest's emulator, machine and accelerator (what its hypervisor offers
 * a guest), fetched side by side.
 *
 * @module
 */
import type { DomainDef } from '../../conf/domain/index.js';
import type { FleetHostInput } from '../../cpu/index.js';
import type { CallOptions, DriverConnection } from '../../driver.js';
import { hostArch } from './caps/host-info.js';
import type { MigrationHosts } from './domains/index.js';

type HostSide = Pick<DriverConnection, 'getCapabilities' | 'getDomainCapabilities'> & {
  readonly paths: { readonly stateDir: string };
};

export function migrationHosts(source: HostSide, dest: HostSide, opts: CallOptions): MigrationHosts {
  const signal = opts.signal ? { signal: opts.signal } : {};
  const host = async (c: HostSide, live: DomainDef): Promise<FleetHostInput> => {
    const [capabilities, domainCapabilities] = await Promise.all([
      c.getCapabilities(signal),
      c.getDomainCapabilities?.({
        ...(live.devices?.emulator ? { emulator: live.devices.emulator } : {}),
        arch: live.os?.type?.arch ?? hostArch(),
        ...(live.os?.type?.machine ? { machine: live.os.type.machine } : {}),
        ...(live.type ? { virttype: live.type } : {}),
        ...signal,
      }),
    ]);
    return { name: c.paths.stateDir, capabilities, ...(domainCapabilities ? { domainCapabilities } : {}) };
  };
  return async (live) => {
    const [s, d] = await Promise.all([host(source, live), host(dest, live)]);
    return { source: s, dest: d };
  };
}

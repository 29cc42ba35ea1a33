/**
 * `buildCommandLine(def, caps, paths)`: the QEMU process a domain
 * definition stands for, as an environment and an argv array, options in
 * the order libvirt writes them. Values from the definition are checked
 * (no control characters) and comma-escaped where they land in a QEMU
 * option list; devices, objects and block nodes are JSON when the probed
 * QEMU takes JSON for them.
 *
 * The definition is expected to carry the QEMU driver's defaults already
 * ({@link applyQemuDefaults}): machine, PCI addresses, controllers.
 *
 * @module
 */

import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { memoryDevicesKiB } from '../../../conf/domain/normalize.js';
import { VirError } from '../../../errors.js';
import { machineFacts } from '../../../machine/machine-types.js';
import { accelOf, resolveMachine } from '../defaults/index.js';
import { hasFlag, type QemuCaps } from '../probe/qemu-caps.js';
import { ArgvBuilder, supportsJsonCli } from './argv-builder.js';
import { buildBoot } from './boot.js';
import { buildClock } from './clock.js';
import { cpuArgument } from './cpu.js';
import { buildDevices } from './devices.js';
import { buildManagedPrHelper } from './disk-reservations.js';
import { withResolvedVolumes } from './disk-volumes.js';
import { checkValue, optValue } from './escape.js';
import { firmwareBlockdevs } from './firmware.js';
import { buildIothreads } from './iothreads.js';
import { machineArgument } from './machine.js';
import { addMemoryBackend, memoryBackend } from './memory-backend.js';
import { buildCryptos, buildPanics } from './misc-devices.js';
import { buildNuma } from './numa.js';
import { buildGenid, buildGlobalControllers, buildPowerManagement, buildPstore } from './platform-globals.js';
import { compatArgument, qemuPassthrough } from './qemu-namespace.js';
import { buildSmbios } from './smbios.js';
import { buildThrottleGroups } from './throttle.js';
import type { CommandLine, CommandLinePaths } from './types.js';
import { buildVsock } from './vsock.js';

export { ArgvBuilder, supportsJsonCli } from './argv-builder.js';
export type { CommandLine, CommandLinePaths } from './types.js';

/**
 * The argv and environment libvirt's QEMU driver would start a domain with, in its order;
 * `CONFIG_UNSUPPORTED` naming the field for anything that cannot reach QEMU.
 */
export function buildCommandLine(given: DomainDef, caps: QemuCaps, paths: CommandLinePaths): CommandLine {
  const def = withResolvedVolumes(given, paths.resolveVolume);
  const name = checkValue(def.name, '/domain/name');
  const dir = checkValue(paths.domainDir, 'paths.domainDir');
  const env: Record<string, string> = {
    LC_ALL: 'C',
    PATH: paths.env?.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    USER: paths.env?.USER ?? 'root',
    LOGNAME: paths.env?.LOGNAME ?? paths.env?.USER ?? 'root',
    XDG_DATA_HOME: `${dir}/.local/share`,
    XDG_CACHE_HOME: `${dir}/.cache`,
    XDG_CONFIG_HOME: `${dir}/.config`,
  };
  const emulator = def.devices?.emulator ?? caps.emulator;
  const b = new ArgvBuilder(supportsJsonCli(caps), caps.versionNumber);
  b.add(checkValue(emulator, '/domain/devices/emulator'));
  b.add('-name', `guest=${optValue(name, '/domain/name')},debug-threads=on`);
  const ns = qemuPassthrough(def);
  b.deviceOverrides = ns.overrides;
  const compat = compatArgument(ns);
  if (compat) b.props('-compat', compat, '/domain/qemu:deprecation');
  b.add('-S');
  if (paths.masterKeyPath !== undefined)
    b.props(
      '-object',
      {
        'qom-type': 'secret',
        id: 'masterKey0',
        format: 'raw',
        file: checkValue(paths.masterKeyPath, 'paths.masterKeyPath'),
      },
      'paths.masterKeyPath',
    );
  buildManagedPrHelper(b, def.devices?.disks ?? [], paths);

  const machine = def.os?.type.machine ?? resolveMachine(def, caps)?.name;
  if (machine === undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'no machine type for this guest', {
      field: '/domain/os/type/@machine',
    });
  const facts = machineFacts(machine);
  const mt = resolveMachine(def, caps);
  const numaCells = def.cpu?.numa?.cells ?? [];
  const ramId = mt?.defaultRamId;
  const pflash = firmwareBlockdevs(def, paths.secrets);
  // Firmware block nodes must exist before the machine that maps them.
  for (const [opt, obj] of pflash.blockdevs) b.props(opt, obj, '/domain/os');
  b.add('-machine', machineArgument(def, { machine, facts, ramId, pflash: pflash.machineOpts }));
  b.add('-accel', accelArgument(def));
  const tseg = def.features?.smm?.state ? def.features.smm.tseg : undefined;
  if (tseg) {
    const field = '/domain/features/smm/tseg';
    if (facts.family !== 'q35')
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'an SMM TSEG size needs a q35 machine', { field });
    if (tseg.unit !== 'MiB')
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'the SMM TSEG size must be a whole number of MiB', {
        field,
      });
    b.add('-global', `mch.extended-tseg-mbytes=${tseg.value}`);
  }

  const cpuArg = cpuArgument(def, caps, accelOf(def));
  if (cpuArg) b.add('-cpu', cpuArg);
  else {
    const hv = (def.devices?.panics ?? []).findIndex((p) => p.model === 'hyperv');
    if (hv >= 0)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        'a Hyper-V panic device needs a -cpu to carry hv-crash',
        {
          field: `/domain/devices/panic[${hv + 1}]/@model`,
        },
      );
  }
  if (def.os?.loader && def.os.loader.type !== 'pflash' && def.os.loader.path !== undefined)
    b.add('-bios', checkValue(def.os.loader.path, '/domain/os/loader'));
  // the loader's place in libvirt's order: a ROM is -bios, a pflash restricted to SMM sets its secure flag
  if (pflash.secure) b.add('-global', 'driver=cfi.pflash01,property=secure,value=on');

  buildMemory(b, def, ramId, numaCells.length > 0, paths);
  const plugged = buildSmp(b, def);
  buildIothreads(b, def, caps);
  buildThrottleGroups(b, def);
  buildNuma(b, def, paths, mt?.numaMemSupported === true);
  if (def.uuid) b.add('-uuid', def.uuid);
  buildSmbios(b, def);
  buildGenid(b, def);

  const graphics = def.devices?.graphics ?? [];
  if (graphics.length === 0) b.add('-display', 'none');
  b.add('-no-user-config', '-nodefaults');
  if ('fd' in paths.monitor)
    b.add('-chardev', `socket,id=charmonitor,fd=${paths.monitor.fd},server=on,wait=off`);
  else
    b.add(
      '-chardev',
      `socket,id=charmonitor,path=${optValue(paths.monitor.path, 'paths.monitor.path')},server=on,wait=off`,
    );
  b.add('-mon', 'chardev=charmonitor,id=monitor,mode=control');
  buildClock(b, def, paths, env);
  b.add('-no-shutdown');
  buildPowerManagement(b, def, facts);
  buildBoot(b, def);
  buildGlobalControllers(b, def);
  buildDevices(b, def, facts, paths, caps);
  // Variables device builders asked for (SDL's audio driver, PipeWire's socket dir, ...).
  for (const [k, v] of Object.entries(b.env)) env[k] = v;
  b.add(...ns.args);
  for (const [k, v] of ns.env) env[k] = v;
  // QEMU runs qemu-bridge-helper itself for an unprivileged bridge NIC: any seccomp sandbox sets
  // no_new_privs, so the setuid helper could not make the tap; such a guest goes without one,
  // as libvirt's guests do with qemu.conf's seccomp_sandbox = 0
  const bridgeHelper = (def.devices?.interfaces ?? []).some((_, i) => paths.bridgeHelper?.(i) !== undefined);
  if (!bridgeHelper)
    b.add('-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny');
  // libvirt writes the panic notifiers after the sandbox.
  buildPanics(b, def, facts);
  buildVsock(b, def, facts, paths);
  buildCryptos(b, def, caps, facts);
  buildPstore(b, def, facts);
  buildAsyncTeardown(b, def, caps);
  b.add('-msg', 'timestamp=on');
  return {
    env,
    argv: b.argv,
    ...(b.monitorCommands.length > 0 ? { monitorCommands: b.monitorCommands } : {}),
    ...(b.rdpServers.length > 0 ? { rdpServers: b.rdpServers } : {}),
    ...(plugged.length > 0 ? { hotplugVcpus: plugged } : {}),
    ...(ns.taints.length > 0 ? { taints: ns.taints } : {}),
  };
}

/** `-run-with async-teardown`: QEMU tears the guest's memory down in a helper process after it exits. */
function buildAsyncTeardown(b: ArgvBuilder, def: DomainDef, caps: QemuCaps): void {
  const enabled = def.features?.asyncTeardown?.enabled;
  if (enabled === undefined) return;
  if (!hasFlag(caps, 'run-with.async-teardown'))
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${caps.emulator} has no asynchronous teardown`, {
      field: '/domain/features/async-teardown/@enabled',
    });
  b.add('-run-with', `async-teardown=${enabled ? 'on' : 'off'}`);
}

function buildMemory(
  b: ArgvBuilder,
  def: DomainDef,
  ramId: string | undefined,
  numa: boolean,
  paths: CommandLinePaths,
): void {
  // -m size is the boot memory: the guest NUMA cells (each in whole MiB) when there are any, else
  // <memory> less what hot-pluggable memory devices bring (as libvirt computes it).
  const cells = def.cpu?.numa?.cells ?? [];
  const boot =
    cells.length > 0
      ? cells.reduce((sum, c) => sum + alignUp(Number(c.memory), 1024), 0)
      : (def.memory?.value ?? 0) - memoryDevicesKiB(def);
  const initial = alignUp(boot, 1024);
  const m = [`size=${initial}k`];
  const max = def.maxMemory;
  if (max) {
    if (max.slots !== undefined) m.push(`slots=${max.slots}`);
    m.push(`maxmem=${max.value}k`);
  }
  b.add('-m', m.join(','));
  if (ramId && !numa) addMemoryBackend(b, memoryBackend(def, ramId, initial, paths), '/domain/memory');
  b.add('-overcommit', `mem-lock=${def.memoryBacking?.locked ? 'on' : 'off'}`);
}

function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * vCPUs `<vcpus>` marks as enabled and hot-pluggable, in their `order`:
 * QEMU starts without them and they are plugged in before the guest runs.
 */
function hotplugVcpus(def: DomainDef): number[] {
  const list = def.vcpus?.vcpus ?? [];
  const max = def.vcpu?.count ?? 1;
  // libvirt's checks: each vCPU once and in range, and an order given to one vCPU only
  const orders = new Set<number>();
  const ids = new Set<number>();
  for (const [i, v] of list.entries()) {
    const field = `/domain/vcpus/vcpu[${i + 1}]`;
    if (ids.has(v.id) || v.id >= max)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `vCPU id ${v.id} is listed twice or out of range`, {
        field: `${field}/@id`,
      });
    ids.add(v.id);
    // a vCPU off at start is plugged later, which only a hot-pluggable one can be
    if (!v.enabled && v.hotpluggable === false)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `vCPU ${v.id} is disabled but not hot-pluggable`, {
        field: `${field}/@hotpluggable`,
      });
    if (v.order === undefined || v.order === 0) continue;
    if (orders.has(v.order) || v.order > max)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        orders.has(v.order)
          ? `duplicate vCPU order ${v.order}`
          : `vCPU order ${v.order} exceeds the vCPU count`,
        { field: `${field}/@order` },
      );
    orders.add(v.order);
  }
  return list
    .filter((v) => v.enabled && v.hotpluggable === true)
    .sort((a, b) => (a.order ?? a.id + 1) - (b.order ?? b.id + 1))
    .map((v) => v.id);
}

function buildSmp(b: ArgvBuilder, def: DomainDef): number[] {
  const count = def.vcpu?.count ?? 1;
  const plugged = hotplugVcpus(def);
  const current = plugged.length > 0 ? (def.vcpu?.current ?? count) - plugged.length : def.vcpu?.current;
  const topo = def.cpu?.topology;
  const items = [String(current ?? count)];
  if (current !== undefined && current !== count) items.push(`maxcpus=${count}`);
  if (topo) {
    items.push(`sockets=${topo.sockets}`);
    items.push(`dies=${topo.dies ?? 1}`, `clusters=${topo.clusters ?? 1}`);
    items.push(`cores=${topo.cores}`, `threads=${topo.threads}`);
  } else items.push(`sockets=${count}`, 'cores=1', 'threads=1');
  b.add('-smp', items.join(','));
  return plugged;
}

/** `-accel`: the accelerator, with KVM's dirty ring when the guest asks for one. */
function accelArgument(def: DomainDef): string {
  const accel = accelOf(def);
  const ring = def.features?.kvm?.dirtyRing;
  if (accel === 'kvm' && ring?.state && ring.size !== undefined) return `kvm,dirty-ring-size=${ring.size}`;
  return accel;
}

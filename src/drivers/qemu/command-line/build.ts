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
import type { QemuCaps } from '../probe/qemu-caps.js';
import { ArgvBuilder, supportsJsonCli } from './argv-builder.js';
import { buildBoot } from './boot.js';
import { buildClock } from './clock.js';
import { cpuArgument } from './cpu.js';
import { buildDevices } from './devices.js';
import { checkValue, optList, optValue } from './escape.js';
import { firmwareBlockdevs } from './firmware.js';
import { buildIothreads } from './iothreads.js';
import { machineArgument } from './machine.js';
import { addMemoryBackend, memoryBackend } from './memory-backend.js';
import { buildPanics } from './misc-devices.js';
import { buildGenid, buildGlobalControllers, buildPowerManagement, buildPstore } from './platform-globals.js';
import { qemuPassthrough } from './qemu-namespace.js';
import { buildSmbios } from './smbios.js';
import { buildThrottleGroups } from './throttle.js';
import type { CommandLine, CommandLinePaths } from './types.js';

export { ArgvBuilder, supportsJsonCli } from './argv-builder.js';
export type { CommandLine, CommandLinePaths } from './types.js';

export function buildCommandLine(def: DomainDef, caps: QemuCaps, paths: CommandLinePaths): CommandLine {
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

  const machine = def.os?.type.machine ?? resolveMachine(def, caps)?.name;
  if (machine === undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'no machine type for this guest', {
      field: '/domain/os/type/@machine',
    });
  const facts = machineFacts(machine);
  const mt = resolveMachine(def, caps);
  const numaCells = def.cpu?.numa?.cells ?? [];
  const ramId = mt?.defaultRamId;
  const pflash = firmwareBlockdevs(def);
  // Firmware block nodes must exist before the machine that maps them.
  for (const [opt, obj] of pflash.blockdevs) b.props(opt, obj, '/domain/os/loader');
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
  if (def.os?.loader && def.os.loader.type !== 'pflash' && def.os.loader.path !== undefined)
    b.add('-bios', checkValue(def.os.loader.path, '/domain/os/loader'));
  // the loader's place in libvirt's order: a ROM is -bios, a pflash restricted to SMM sets its secure flag
  if (pflash.secure) b.add('-global', 'driver=cfi.pflash01,property=secure,value=on');

  buildMemory(b, def, ramId, numaCells.length > 0, paths);
  buildSmp(b, def);
  buildIothreads(b, def, caps);
  buildThrottleGroups(b, def);
  buildNuma(b, def, paths);
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
  buildDevices(b, def, facts, paths);
  // Variables device builders asked for (SDL's audio driver, PipeWire's socket dir, ...).
  for (const [k, v] of Object.entries(b.env)) env[k] = v;
  const passthrough = qemuPassthrough(def);
  b.add(...passthrough.args);
  for (const [k, v] of passthrough.env) env[k] = v;
  b.add('-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny');
  // libvirt writes the panic notifiers after the sandbox.
  buildPanics(b, def, facts);
  buildPstore(b, def, facts);
  b.add('-msg', 'timestamp=on');
  return {
    env,
    argv: b.argv,
    ...(b.monitorCommands.length > 0 ? { monitorCommands: b.monitorCommands } : {}),
  };
}

function buildMemory(
  b: ArgvBuilder,
  def: DomainDef,
  ramId: string | undefined,
  numa: boolean,
  paths: CommandLinePaths,
): void {
  // -m size is the boot memory: the guest NUMA cells when there are any, else
  // <memory> less what hot-pluggable memory devices bring (as libvirt computes it).
  const cells = def.cpu?.numa?.cells ?? [];
  const boot =
    cells.length > 0
      ? cells.reduce((sum, c) => sum + Number(c.memory), 0)
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

function buildSmp(b: ArgvBuilder, def: DomainDef): void {
  const count = def.vcpu?.count ?? 1;
  const current = def.vcpu?.current;
  const topo = def.cpu?.topology;
  const items = [String(current ?? count)];
  if (current !== undefined && current !== count) items.push(`maxcpus=${count}`);
  if (topo) {
    items.push(`sockets=${topo.sockets}`);
    items.push(`dies=${topo.dies ?? 1}`, `clusters=${topo.clusters ?? 1}`);
    items.push(`cores=${topo.cores}`, `threads=${topo.threads}`);
  } else items.push(`sockets=${count}`, 'cores=1', 'threads=1');
  b.add('-smp', items.join(','));
}

function buildNuma(b: ArgvBuilder, def: DomainDef, paths: CommandLinePaths): void {
  const cells = def.cpu?.numa?.cells ?? [];
  for (const [i, cell] of cells.entries()) {
    const id = cell.id ?? i;
    const kib = alignUp(Number(cell.memory), 1024);
    addMemoryBackend(b, memoryBackend(def, `ram-node${id}`, kib, paths, id), '/domain/cpu/numa');
    const field = `/domain/cpu/numa/cell[${i + 1}]/@cpus`;
    // Each range becomes its own cpus= item; anything but digits and dashes would smuggle in options.
    const cpus = (cell.cpus ?? '')
      .split(',')
      .filter((s) => s !== '')
      .map((s) => {
        if (!/^\d+(-\d+)?$/.test(s.trim()))
          throw new VirError('XML_DETAIL', 'qemu', `'${checkValue(s, field)}' is not a CPU range`, { field });
        return `cpus=${s.trim()}`;
      });
    b.add('-numa', optList(['node', `nodeid=${id}`, ...cpus, `memdev=ram-node${id}`]));
  }
}

/** `-accel`: the accelerator, with KVM's dirty ring when the guest asks for one. */
function accelArgument(def: DomainDef): string {
  const accel = accelOf(def);
  const ring = def.features?.kvm?.dirtyRing;
  if (accel === 'kvm' && ring?.state && ring.size !== undefined) return `kvm,dirty-ring-size=${ring.size}`;
  return accel;
}

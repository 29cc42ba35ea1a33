/**
 * The `qemu` driver: `qemu:///system` and `qemu:///session`, in-process.
 *
 * Driver options (`connect(uri, { driverOptions })`): `emulators` (binaries
 * to offer), `kvm: false` (never use KVM), and the roots `cacheDir` (or
 * `null` for memory only), `configDir`, `stateDir`, `runDir`, `logDir`, the helper
 * binaries `swtpm` and `swtpmSetup`, the timeouts `qmpTimeout`, `startTimeout`
 * and `shutdownTimeout` (milliseconds, see options.ts), `storagePoolRoots`
 * (more directories a session pool may use), `sysRoot` and `vhostVsock`
 * (where device hotplug finds the host's devices: `/sys`, `/dev/vhost-vsock`); each
 * root also has an environment variable (see paths.ts). CPU models and
 * host-model come from the CPU engine's shipped database.
 *
 * @module
 */
import type { DriverFactory } from '../../driver.js';
import { VirError } from '../../errors.js';
import { isRemoteUri } from '../../uri.js';
import { resolveQemuPaths } from './paths.js';
import { QemuConnection, type QemuConnectionOptions } from './qemu-connection.js';

/** A day: longer is a mistake (a unit confusion), not a wait anyone means. */
const MAX_TIMEOUT_MS = 86_400_000;

export const qemuDriver: DriverFactory = {
  name: 'qemu',
  accepts: (uri) => uri.driver === 'qemu' && !isRemoteUri(uri),
  async open({ uri, driverOptions }) {
    if (uri.path !== '/system' && uri.path !== '/session') {
      throw new VirError(
        'NO_CONNECT',
        'qemu',
        `unexpected QEMU URI path '${uri.path}', try qemu:///system or qemu:///session`,
      );
    }
    const mode = uri.path === '/system' ? 'system' : 'session';
    if (mode === 'system' && !isRoot()) {
      // as libvirt: the system instance manages guests and files of the whole host
      throw new VirError(
        'OPERATION_DENIED',
        'qemu',
        "qemu:///system manages the host's guests and needs root; use qemu:///session for your own guests",
      );
    }
    const options: QemuConnectionOptions = { paths: resolveQemuPaths(mode, driverOptions) };
    const emulators = driverOptions.emulators;
    if (emulators !== undefined) {
      if (!Array.isArray(emulators) || !emulators.every((e) => typeof e === 'string' && e.startsWith('/'))) {
        throw new VirError(
          'INVALID_ARG',
          'qemu',
          "driver option 'emulators' must be a list of absolute paths",
          {
            field: 'emulators',
          },
        );
      }
      options.emulators = emulators as string[];
    }
    if (driverOptions.kvm === false) options.kvm = false;
    const helpers: Record<string, string> = {};
    for (const key of ['swtpm', 'swtpmSetup', 'virtiofsd', 'passt'] as const) {
      const v = driverOptions[key];
      if (v === undefined) continue;
      if (typeof v !== 'string' || !v.startsWith('/'))
        throw new VirError('INVALID_ARG', 'qemu', `driver option '${key}' must be an absolute path`, {
          field: key,
        });
      helpers[key] = v;
    }
    // qemu.conf's bridge_helper: a name (looked up as libvirt does) or an absolute path
    const bridgeHelper = driverOptions.bridgeHelper;
    if (bridgeHelper !== undefined) {
      if (
        typeof bridgeHelper !== 'string' ||
        bridgeHelper === '' ||
        (bridgeHelper.includes('/') && !bridgeHelper.startsWith('/'))
      )
        throw new VirError(
          'INVALID_ARG',
          'qemu',
          "driver option 'bridgeHelper' must be a file name or an absolute path",
          {
            field: 'bridgeHelper',
          },
        );
      helpers.bridgeHelper = bridgeHelper;
    }
    if (Object.keys(helpers).length > 0) options.helperBinaries = helpers;
    // where device hotplug finds the host's devices (tests point these at copies)
    const hostRoots: { sysRoot?: string; vhostVsock?: string } = {};
    for (const key of ['sysRoot', 'vhostVsock'] as const) {
      const v = driverOptions[key];
      if (v === undefined) continue;
      if (typeof v !== 'string' || !v.startsWith('/'))
        throw new VirError('INVALID_ARG', 'qemu', `driver option '${key}' must be an absolute path`, {
          field: key,
        });
      hostRoots[key] = v;
    }
    if (Object.keys(hostRoots).length > 0) options.hostdevRoots = hostRoots;
    const poolRoots = driverOptions.storagePoolRoots;
    if (poolRoots !== undefined) {
      if (
        !Array.isArray(poolRoots) ||
        !poolRoots.every((r) => typeof r === 'string' && r.startsWith('/') && !r.split('/').includes('..'))
      )
        throw new VirError(
          'INVALID_ARG',
          'qemu',
          "driver option 'storagePoolRoots' must be a list of absolute paths without '..'",
          { field: 'storagePoolRoots' },
        );
      options.storagePoolRoots = poolRoots as string[];
    }
    const timeouts: NonNullable<QemuConnectionOptions['timeouts']> = {};
    for (const key of ['qmpTimeout', 'startTimeout', 'shutdownTimeout'] as const) {
      const v = driverOptions[key];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > MAX_TIMEOUT_MS)
        throw new VirError(
          'INVALID_ARG',
          'qemu',
          `driver option '${key}' must be a whole number of milliseconds between 1 and ${MAX_TIMEOUT_MS}`,
          { field: key },
        );
      timeouts[key] = v;
    }
    if (Object.keys(timeouts).length > 0) options.timeouts = timeouts;
    return new QemuConnection(options);
  },
};

function isRoot(): boolean {
  return typeof process.getuid !== 'function' || process.getuid() === 0;
}

export { QmpClient, QmpError } from './qmp/index.js';
export { QemuConnection };

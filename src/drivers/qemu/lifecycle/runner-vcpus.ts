/**
 * Changing the vCPU count of a running guest, as libvirt's QEMU driver
 * does on a QEMU with `query-hotpluggable-cpus`: vCPUs are plugged with
 * `device_add` of the slot entries QEMU lists (in libvirt's numbering, see
 * `vcpu-hotplug.ts`), under libvirt's alias `vcpu<N>`, and unplugged with
 * `device_del` of those aliases, highest first, each complete when QEMU
 * reports `DEVICE_DELETED` (the guest must let the vCPU go, as with any
 * ACPI unplug). vCPUs QEMU started with (`-smp`) cannot be unplugged.
 * The caller hears which vCPU threads QEMU has afterwards, for their
 * cgroups.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import type { QmpClient } from '../qmp/index.js';
import type { RunnerMigration } from './runner-migration.js';
import { type HotpluggableCpu, vcpuHotplugCommands } from './vcpu-hotplug.js';

/** How long a guest has to release a vCPU (libvirt waits 5 s for a device removal). */
export const VCPU_UNPLUG_TIMEOUT_MS = 5000;

/**
 * Plugs or unplugs vCPUs until the guest has `count`; returns how many it
 * has then (as QEMU counts them). `m` is the runner's QMP side (its
 * `migration` accessor).
 */
export function setLiveVcpus(
  m: RunnerMigration,
  count: number,
  unplugTimeoutMs = VCPU_UNPLUG_TIMEOUT_MS,
  onVcpus?: (vcpus: { index: number; tid: number }[]) => void,
): Promise<number> {
  const core = m.core;
  return core.job('set vcpus', async () => {
    const qmp = core.requireMonitor();
    const slots = await qmp.execute<HotpluggableCpu[]>('query-hotpluggable-cpus');
    try {
      await plugOrUnplug(qmp, slots, count, unplugTimeoutMs);
    } finally {
      // what QEMU has now, also after a failure half-way
      const now = await qmp
        .execute<{ 'cpu-index': number; 'thread-id': number }[]>('query-cpus-fast')
        .catch(() => undefined);
      if (Array.isArray(now)) core.guest = { ...core.guest, vcpus: now.length };
      core.writeStatus();
      // the vCPU threads QEMU has now, for their cgroups
      if (Array.isArray(now)) onVcpus?.(now.map((c) => ({ index: c['cpu-index'], tid: c['thread-id'] })));
    }
    return core.guest.vcpus;
  });
}

async function plugOrUnplug(
  qmp: QmpClient,
  slots: HotpluggableCpu[],
  count: number,
  unplugTimeoutMs: number,
): Promise<void> {
  const present = slots.filter((s) => s['qom-path'] !== undefined).length;
  if (count > present) {
    const ids = Array.from({ length: count - present }, (_, i) => present + i);
    for (const dev of vcpuHotplugCommands(slots, ids)) await qmp.execute('device_add', dev);
  }
  for (let id = present - 1; id >= count; id--) {
    const alias = `vcpu${id}`;
    const slot = slots.find((s) => s['qom-path'] === `/machine/peripheral/${alias}`);
    if (!slot) {
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `vCPU ${id} was not hot-plugged and cannot be unplugged`,
        {
          field: 'vcpu',
        },
      );
    }
    const gone = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), unplugTimeoutMs);
      const off = qmp.onEvent((ev) => {
        const data = ev.data as { device?: string; path?: string } | undefined;
        if (ev.event === 'DEVICE_DELETED' && (data?.device === alias || data?.path === slot['qom-path']))
          done(true);
      });
      function done(ok: boolean) {
        clearTimeout(timer);
        off();
        resolve(ok);
      }
    });
    await qmp.execute('device_del', { id: alias });
    if (!(await gone)) {
      throw new VirError(
        'OPERATION_TIMEOUT',
        'qemu',
        `vCPU ${id} unplug request timed out after ${unplugTimeoutMs} ms: the guest did not release it`,
        { field: 'vcpu' },
      );
    }
  }
}

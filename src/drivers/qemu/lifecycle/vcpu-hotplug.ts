/**
 * vCPUs a guest starts with but that stay hot-unpluggable (`<vcpus>` with
 * `enabled='yes' hotpluggable='yes'`): QEMU starts with the others (`-smp N`)
 * and these are plugged in over QMP before the guest runs, as libvirt does,
 * so they can be unplugged later.
 *
 * QEMU lists the slots it can fill (`query-hotpluggable-cpus`); vCPU `i` of
 * the definition is the `i`-th slot in topology order (socket, die, cluster,
 * core, thread), which is how libvirt numbers vCPUs.
 *
 * @module
 */
import { VirError } from '../../../errors.js';

export interface HotpluggableCpu {
  type: string;
  'vcpus-count'?: number;
  props: Record<string, number>;
  'qom-path'?: string;
}

const ORDER = [
  'node-id',
  'drawer-id',
  'book-id',
  'socket-id',
  'die-id',
  'cluster-id',
  'core-id',
  'thread-id',
];

function compare(a: HotpluggableCpu, b: HotpluggableCpu): number {
  for (const k of ORDER) {
    const d = (a.props[k] ?? 0) - (b.props[k] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The `device_add` arguments that plug vCPUs `ids` (in plug order) into the slots QEMU reported. */
export function vcpuHotplugCommands(
  slots: HotpluggableCpu[],
  ids: readonly number[],
): Record<string, unknown>[] {
  const sorted = [...slots].sort(compare);
  return ids.map((id) => {
    const slot = sorted[id];
    if (!slot || (slot['vcpus-count'] ?? 1) !== 1)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `QEMU has no hot-pluggable slot for vCPU ${id}`, {
        field: `/domain/vcpus/vcpu[@id='${id}']`,
      });
    if (slot['qom-path'] !== undefined)
      throw new VirError('INTERNAL_ERROR', 'qemu', `vCPU ${id} is already present in QEMU`, {
        field: `/domain/vcpus/vcpu[@id='${id}']`,
      });
    // libvirt's alias for a hot-plugged vCPU
    return { driver: slot.type, id: `vcpu${id}`, ...slot.props };
  });
}

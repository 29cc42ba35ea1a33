/**
 * Which probe answer stands for which libvirt capability flag: the data half
 * of the flag derivation (`capability-flags.ts` applies it). The facts are
 * libvirt 11.3's (`qemu_capabilities.c`): a QOM type being listed, a
 * device or object having a property, a QMP schema path existing, a
 * command-line option (or one of its parameters) being known, a migration
 * capability being offered. Rules for the few flags that need more than a
 * lookup live in the derivation itself.
 *
 * @module
 */
import type { QemuCapabilityFlag as Flag } from './capability-flag-names.js';

/** A name QEMU reports, and the flag its presence sets. */
export type NameFlag = readonly [name: string, flag: Flag];

/** Properties of one QOM type (device, object or machine) that set flags. */
export interface TypePropsRule {
  /** QOM type asked with `device-list-properties` / `qom-list-properties`. */
  type: string;
  /** Asked only when this flag is already set (the type exists). */
  onlyIf?: Flag;
  props: readonly NameFlag[];
}

/** Schema paths (see `qapi-schema.ts` for the query syntax) that set a flag when they exist. */
export const SCHEMA_PATH_FLAGS: readonly NameFlag[] = [
  ['blockdev-add/arg-type/+file/drop-cache', 'migration-file-drop-cache'],
  ['blockdev-add/arg-type/+nvme', 'drive-nvme'],
  ['blockdev-add/arg-type/+file/aio/^io_uring', 'aio.io_uring'],
  ['blockdev-add/arg-type/+rbd/encrypt', 'rbd-encryption'],
  ['blockdev-add/arg-type/+rbd/encrypt/parent', 'rbd-encryption-layering'],
  ['blockdev-add/arg-type/+rbd/encrypt/format/^luks-any', 'rbd-encryption-luks-any'],
  ['blockdev-add/arg-type/+nbd/tls-hostname', 'blockdev.nbd.tls-hostname'],
  ['blockdev-add/arg-type/+qcow2/discard-no-unref', 'qcow2-discard-no-unref'],
  ['blockdev-add/arg-type/+virtio-blk-vhost-vdpa/$fdset', 'virtio-blk-vhost-vdpa'],
  ['calc-dirty-rate/arg-type/mode', 'dirtyrate-param.mode'],
  ['chardev-add/arg-type/backend/+socket/data/reconnect', 'chardev-reconnect'],
  ['chardev-add/arg-type/backend/+socket/data/reconnect-ms', 'chardev-reconnect-miliseconds'],
  ['chardev-add/arg-type/backend/+qemu-vdagent', 'chardev.qemu-vdagent'],
  ['device_add/$json-cli-hotplug', 'device.json+hotplug'],
  ['nbd-server-start/arg-type/tls-creds', 'nbd-tls'],
  ['netdev_add/arg-type/+stream', 'netdev.stream'],
  ['netdev_add/arg-type/+stream/reconnect', 'netdev.stream.reconnect'],
  ['netdev_add/arg-type/+vhost-vdpa', 'netdev.vhost-vdpa'],
  ['netdev_add/arg-type/type/^dgram', 'netdev.json'],
  ['netdev_add/arg-type/+user', 'netdev.user'],
  ['netdev_add/arg-type/+stream/reconnect-ms', 'netdev-stream-reconnect-miliseconds'],
  ['object-add/arg-type/+sev-guest/kernel-hashes', 'sev-guest-kernel-hashes'],
  ['object-add/arg-type/+iothread/thread-pool-max', 'iothread.thread-pool-max'],
  ['query-display-options/ret-type/+egl-headless/rendernode', 'egl-headless.rendernode'],
  ['query-display-options/ret-type/+sdl', 'sdl'],
  ['query-display-options/ret-type/+egl-headless', 'egl-headless'],
  ['query-display-options/ret-type/+dbus', 'display-dbus'],
  ['query-hotpluggable-cpus/ret-type/props/die-id', 'smp-dies'],
  ['query-hotpluggable-cpus/ret-type/props/cluster-id', 'smp-clusters'],
  ['query-migrate/ret-type/blocked-reasons', 'migration.blocked-reasons'],
  ['screendump/arg-type/device', 'screendump_device'],
  ['screendump/arg-type/format/^png', 'screenshot-format-png'],
  ['set-numa-node/arg-type/+hmat-lb', 'numa.hmat'],
  ['query-cpu-model-expansion/ret-type/deprecated-props', 'query-cpu-model-expansion.deprecated-props'],
  ['migrate-incoming/arg-type/exit-on-error', 'migrate-incoming.exit-on-error'],
];

/** Commands whose presence in the QMP schema sets a flag. */
export const COMMAND_FLAGS: readonly NameFlag[] = [
  ['query-vnc', 'vnc'],
  ['rtc-reset-reinjection', 'rtc-reset-reinjection'],
  ['query-cpu-model-expansion', 'query-cpu-model-expansion'],
  ['query-cpu-definitions', 'query-cpu-definitions'],
  ['query-cpu-model-baseline', 'query-cpu-model-baseline'],
  ['query-cpu-model-comparison', 'query-cpu-model-comparison'],
  ['set-action', 'set-action'],
  ['query-dirty-rate', 'query-dirty-rate'],
  ['sev-inject-launch-secret', 'sev-inject-launch-secret'],
  ['calc-dirty-rate', 'calc-dirty-rate'],
  ['query-stats', 'query-stats'],
  ['query-stats-schemas', 'query-stats-schemas'],
  ['display-reload', 'display-reload'],
  ['blockdev-set-active', 'blockdev-set-active'],
];

/** Migration capabilities (`query-migrate-capabilities`) that set a flag. */
export const MIGRATION_CAPABILITY_FLAGS: readonly NameFlag[] = [['rdma-pin-all', 'migrate-rdma']];

/**
 * Device properties (`device-list-properties`), in the order libvirt asks.
 * Types without flag properties are still asked: libvirt records their
 * property lists for later use.
 */
export const DEVICE_PROP_FLAGS: readonly TypePropsRule[] = [
  {
    type: 'virtio-blk-pci',
    props: [
      ['scsi', 'virtio-blk-pci.scsi'],
      ['queue-size', 'virtio-blk.queue-size'],
      ['acpi-index', 'acpi-index'],
      ['iothread-vq-mapping', 'virtio-blk.iothread-mapping'],
    ],
  },
  {
    type: 'virtio-net-pci',
    onlyIf: 'virtio-net',
    props: [
      ['acpi-index', 'acpi-index'],
      ['rss', 'virtio-net.rss'],
    ],
  },
  {
    type: 'virtio-scsi-pci',
    onlyIf: 'virtio-scsi-pci',
    props: [
      ['acpi-index', 'acpi-index'],
      ['iothread-vq-mapping', 'virtio-scsi.iothread-mapping'],
    ],
  },
  {
    type: 'virtio-blk-ccw',
    onlyIf: 'virtio-ccw',
    props: [
      ['scsi', 'virtio-blk-pci.scsi'],
      ['queue-size', 'virtio-blk.queue-size'],
      ['acpi-index', 'acpi-index'],
      ['iothread-vq-mapping', 'virtio-blk.iothread-mapping'],
    ],
  },
  {
    type: 'virtio-net-ccw',
    onlyIf: 'virtio-net',
    props: [
      ['acpi-index', 'acpi-index'],
      ['rss', 'virtio-net.rss'],
    ],
  },
  {
    type: 'virtio-scsi-ccw',
    onlyIf: 'virtio-scsi-pci',
    props: [
      ['acpi-index', 'acpi-index'],
      ['iothread-vq-mapping', 'virtio-scsi.iothread-mapping'],
    ],
  },
  { type: 'vfio-pci', onlyIf: 'vfio-pci', props: [] },
  {
    type: 'scsi-hd',
    props: [
      ['channel', 'scsi-disk.channel'],
      ['rotation_rate', 'rotation-rate'],
    ],
  },
  { type: 'ide-hd', props: [] },
  { type: 'PIIX4_PM', props: [['acpi-root-pci-hotplug', 'piix4.acpi-root-pci-hotplug']] },
  { type: 'usb-redir', onlyIf: 'usb-redir', props: [['filter', 'usb-redir.filter']] },
  { type: 'usb-storage', onlyIf: 'usb-storage', props: [] },
  { type: 'kvm-pit', props: [['lost_tick_policy', 'kvm-pit-lost-tick-policy']] },
  { type: 'VGA', onlyIf: 'VGA', props: [['vgamem_mb', 'VGA.vgamem_mb']] },
  { type: 'vmware-svga', onlyIf: 'vmware-svga', props: [['vgamem_mb', 'vmware-svga.vgamem_mb']] },
  {
    type: 'qxl',
    onlyIf: 'qxl',
    props: [
      ['vgamem_mb', 'qxl.vgamem_mb'],
      ['vram64_size_mb', 'qxl.vram64_size_mb'],
    ],
  },
  {
    type: 'virtio-gpu-pci',
    onlyIf: 'virtio-gpu',
    props: [
      ['virgl', 'virtio-gpu.virgl'],
      ['acpi-index', 'acpi-index'],
      ['blob', 'virtio-gpu.blob'],
    ],
  },
  {
    type: 'virtio-gpu-device',
    onlyIf: 'virtio-gpu',
    props: [
      ['virgl', 'virtio-gpu.virgl'],
      ['acpi-index', 'acpi-index'],
      ['blob', 'virtio-gpu.blob'],
    ],
  },
  { type: 'ICH9-LPC', props: [] },
  {
    type: 'virtio-balloon-pci',
    props: [
      ['deflate-on-oom', 'virtio-balloon-pci.deflate-on-oom'],
      ['free-page-reporting', 'virtio-balloon.free-page-reporting'],
      ['acpi-index', 'acpi-index'],
    ],
  },
  {
    type: 'virtio-balloon-ccw',
    props: [
      ['deflate-on-oom', 'virtio-balloon-pci.deflate-on-oom'],
      ['free-page-reporting', 'virtio-balloon.free-page-reporting'],
      ['acpi-index', 'acpi-index'],
    ],
  },
  {
    type: 'virtio-balloon-device',
    props: [
      ['deflate-on-oom', 'virtio-balloon-pci.deflate-on-oom'],
      ['free-page-reporting', 'virtio-balloon.free-page-reporting'],
      ['acpi-index', 'acpi-index'],
    ],
  },
  {
    type: 'intel-iommu',
    onlyIf: 'intel-iommu',
    props: [
      ['intremap', 'intel-iommu.intremap'],
      ['caching-mode', 'intel-iommu.caching-mode'],
      ['eim', 'intel-iommu.eim'],
      ['device-iotlb', 'intel-iommu.device-iotlb'],
      ['aw-bits', 'intel-iommu.aw-bits'],
      ['dma-translation', 'intel-iommu.dma-translation'],
    ],
  },
  {
    type: 'spapr-pci-host-bridge',
    onlyIf: 'spapr-pci-host-bridge',
    props: [['numa_node', 'spapr-pci-host-bridge.numa_node']],
  },
  {
    type: 'virtio-gpu-ccw',
    onlyIf: 'virtio-gpu-ccw',
    props: [
      ['virgl', 'virtio-gpu.virgl'],
      ['acpi-index', 'acpi-index'],
      ['blob', 'virtio-gpu.blob'],
    ],
  },
  { type: 'mch', onlyIf: 'mch', props: [['extended-tseg-mbytes', 'mch.extended-tseg-mbytes']] },
  { type: 'nvdimm', onlyIf: 'nvdimm', props: [['unarmed', 'nvdimm.unarmed']] },
  { type: 'pcie-root-port', onlyIf: 'pcie-root-port', props: [['hotplug', 'pcie-root-port.hotplug']] },
  {
    type: 'usb-host',
    props: [
      ['hostdevice', 'usb-host.hostdevice'],
      ['guest-resets-all', 'usb-host.guest-resets-all'],
    ],
  },
  {
    type: 'vhost-user-fs-device',
    onlyIf: 'vhost-user-fs',
    props: [['bootindex', 'vhost-user-fs.bootindex']],
  },
  {
    type: 'virtio-mem-pci',
    onlyIf: 'virtio-mem-pci',
    props: [
      ['prealloc', 'virtio-mem-pci.prealloc'],
      ['dynamic-memslots', 'virtio-mem-pci.dynamic-memslots'],
    ],
  },
  {
    type: 'virtio-iommu-pci',
    onlyIf: 'virtio-iommu-pci',
    props: [['boot-bypass', 'virtio-iommu.boot-bypass']],
  },
  { type: 'virtio-blk-ccw', onlyIf: 'virtio-ccw', props: [['loadparm', 'virtio-ccw.loadparm']] },
];

/** Object properties (`qom-list-properties`), in the order libvirt asks. */
export const OBJECT_PROP_FLAGS: readonly TypePropsRule[] = [
  {
    type: 'memory-backend-file',
    props: [
      ['pmem', 'memory-backend-file.pmem'],
      ['x-use-canonical-path-for-ramblock-id', 'memory-backend-file.x-use-canonical-path-for-ramblock-id'],
      ['reserve', 'memory-backend-file.reserve'],
      ['prealloc-threads', 'memory-backend-file.prealloc-threads'],
    ],
  },
  {
    type: 'memory-backend-memfd',
    onlyIf: 'memory-backend-memfd',
    props: [['hugetlb', 'memory-backend-memfd.hugetlb']],
  },
  {
    type: 'max-x86_64-cpu',
    onlyIf: 'x86-max-cpu',
    props: [
      ['unavailable-features', 'cpu-unavailable-features'],
      ['kvm-no-adjvtime', 'cpu.kvm-no-adjvtime'],
      ['migratable', 'cpu.migratable'],
    ],
  },
  {
    type: 'max-arm-cpu',
    onlyIf: 'arm-max-cpu',
    props: [
      ['unavailable-features', 'cpu-unavailable-features'],
      ['kvm-no-adjvtime', 'cpu.kvm-no-adjvtime'],
      ['migratable', 'cpu.migratable'],
    ],
  },
];

/**
 * Machine properties (`qom-list-properties` of `<machine>-machine`). A
 * machine is asked only when the binary has it, except `none` (always) and
 * `generic-pc` (always on x86).
 */
export const MACHINE_PROP_FLAGS: readonly TypePropsRule[] = [
  { type: 'pseries', props: [] },
  {
    type: 'virt',
    props: [
      ['iommu', 'machine.virt.iommu'],
      ['ras', 'machine.virt.ras'],
      ['aia', 'machine.virt.aia'],
    ],
  },
  {
    type: 'none',
    props: [
      ['confidential-guest-support', 'confidential-guest-support'],
      ['shim', 'shim'],
    ],
  },
  { type: 'generic-pc', props: [['i8042', 'machine-i8042-opt']] },
];

/** `query-command-line-options`: an option, or one parameter of it, that sets a flag. */
export const COMMAND_LINE_FLAGS: ReadonlyArray<readonly [option: string, param: string | null, flag: Flag]> =
  [
    ['fsdev', 'multidevs', 'fsdev.multidevs'],
    ['machine', 'hpet', 'machine-hpet'],
    ['sandbox', null, 'seccomp-sandbox'],
    ['spice', null, 'spice'],
    ['spice', 'gl', 'spice-gl'],
    ['spice', 'rendernode', 'spice-rendernode'],
    ['vnc', 'power-control', 'vnc-power-control'],
    ['run-with', 'async-teardown', 'run-with.async-teardown'],
  ];

/** TPM front-end models (`query-tpm-models`) that set a flag. */
export const TPM_MODEL_FLAGS: readonly NameFlag[] = [
  ['tpm-tis', 'tpm-tis'],
  ['tpm-crb', 'tpm-crb'],
  ['tpm-spapr', 'tpm-spapr'],
];

/** TPM back-end types (`query-tpm-types`) that set a flag. */
export const TPM_TYPE_FLAGS: readonly NameFlag[] = [
  ['passthrough', 'tpm-passthrough'],
  ['emulator', 'tpm-emulator'],
];

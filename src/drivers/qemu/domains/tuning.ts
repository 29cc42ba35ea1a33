/**
 * `virDomainSetMetadata` / `GetMetadata` and `virDomainSetBlockIoTune` /
 * `GetBlockIoTune` for the QEMU driver's table, as libvirt's QEMU driver
 * does them: metadata in the live definition (kept in the status file, so a
 * re-attached guest has it) and/or the persistent one, then
 * `metadata-change`; a disk's I/O limits by `block_set_io_throttle` on the
 * running guest and/or in the persistent `<iotune>`, then `tunable` with
 * the `blkdeviotune.*` parameters given.
 *
 * @module
 */
import type { DiskDef } from '../../../conf/domain/devices/disk.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import {
  diskByName,
  type IotuneValues,
  iotuneOf,
  iotuneValues,
  withDiskIotune,
} from '../../../conf/domain/iotune-edit.js';
import { metadataOf, withMetadata } from '../../../conf/domain/metadata-edit.js';
import type {
  BlockIoTune,
  BlockIoTuneOptions,
  BlockIoTuneParams,
  GetMetadataOptions,
  SetMetadataOptions,
} from '../../../domain-tuning.js';
import type { DomainRef, MetadataKind, TypedParamValue } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { diskAlias } from '../command-line/disk-device.js';
import { iotuneCommand } from '../command-line/throttle.js';
import { commitConfig, commitLive } from './commit-defs.js';
import { type Entry, isActive, refOf, type WriteFlags } from './domain-entry.js';
import type { DomainListAccess } from './migration.js';

/** libvirt's `virDomainObjGetDefs`: current is live for a running domain, else the persistent one. */
export function targets(e: Entry, opts: WriteFlags): { live: boolean; config: boolean } {
  const current = !opts.live && !opts.config;
  const live = current ? isActive(e) : opts.live === true;
  const config = current ? !isActive(e) : opts.config === true;
  if (live && !isActive(e)) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
  if (config && !e.config)
    throw new VirError('OPERATION_INVALID', 'qemu', 'transient domains do not have any persistent config');
  return { live, config };
}

/** libvirt's `virDomainObjGetOneDef`: the one definition a read means. */
function oneDef(e: Entry, opts: WriteFlags): DomainDef {
  if (opts.live && opts.config)
    throw new VirError(
      'INVALID_ARG',
      'qemu',
      "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
      { field: 'flags' },
    );
  const { live } = targets(e, opts);
  const def = live ? e.live : e.config;
  if (!def) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
  return def;
}

export async function setMetadata(
  side: DomainListAccess,
  dom: DomainRef,
  kind: MetadataKind,
  value: string | null,
  opts: SetMetadataOptions,
): Promise<void> {
  const e = await side.owned(dom, opts, 'change the metadata of');
  await side.jobs.run(
    e.uuid,
    'set metadata',
    () => {
      const { live, config } = targets(e, opts);
      // both made first: a refused element changes neither
      const nextLive = live && e.live ? withMetadata(e.live, kind, value, opts.key, opts.uri) : undefined;
      const nextConfig =
        config && e.config ? withMetadata(e.config, kind, value, opts.key, opts.uri) : undefined;
      if (nextLive) commitLive(e, nextLive);
      commitConfig(side, e, nextConfig);
      side.table.forward({
        type: 'metadata-change',
        domain: refOf(e),
        timestamp: Date.now(),
        kind,
        ...(kind === 'element' && opts.uri !== undefined ? { nsuri: opts.uri } : {}),
      });
    },
    opts.signal,
  );
}

export async function getMetadata(
  side: DomainListAccess,
  dom: DomainRef,
  kind: MetadataKind,
  opts: GetMetadataOptions,
): Promise<string> {
  const e = await side.owned(dom, opts, 'read the metadata of');
  return metadataOf(oneDef(e, opts), kind, opts.uri);
}

export async function getBlockIoTune(
  side: DomainListAccess,
  dom: DomainRef,
  disk: string,
  opts: BlockIoTuneOptions,
): Promise<BlockIoTune> {
  const e = await side.owned(dom, opts, 'read the I/O limits of');
  return iotuneValues(diskByName(oneDef(e, opts), disk, 'qemu').disk.iotune);
}

/** The parameter families libvirt's QEMU driver resets together: one given, the others of it are 0. */
const FAMILIES: readonly (readonly (keyof IotuneValues)[])[] = [
  ['total_bytes_sec', 'read_bytes_sec', 'write_bytes_sec'],
  ['total_iops_sec', 'read_iops_sec', 'write_iops_sec'],
  ['total_bytes_sec_max', 'read_bytes_sec_max', 'write_bytes_sec_max'],
  ['total_iops_sec_max', 'read_iops_sec_max', 'write_iops_sec_max'],
  ['size_iops_sec'],
  ['group_name'],
  ['total_bytes_sec_max_length', 'read_bytes_sec_max_length', 'write_bytes_sec_max_length'],
  ['total_iops_sec_max_length', 'read_iops_sec_max_length', 'write_iops_sec_max_length'],
];

/** The values after a change: a family given replaces all of it, one not given keeps its old values. */
function merged(old: IotuneValues, params: BlockIoTuneParams): IotuneValues {
  const out = { ...old } as Record<string, number | string>;
  for (const family of FAMILIES) {
    if (!family.some((k) => params[k] !== undefined)) continue;
    for (const k of family) out[k] = params[k] ?? (k === 'group_name' ? '' : 0);
  }
  const values = out as IotuneValues;
  // a burst length without its burst means nothing: libvirt drops it when the burst goes
  for (const dir of ['total', 'read', 'write'] as const)
    for (const kind of ['bytes', 'iops'] as const) {
      if (values[`${dir}_${kind}_sec_max`] === 0) values[`${dir}_${kind}_sec_max_length`] = 0;
    }
  return values;
}

/** libvirt's checks of a disk's limits, before QEMU sees them (and for the persistent definition). */
function validate(v: IotuneValues): void {
  for (const what of ['bytes_sec', 'iops_sec', 'bytes_sec_max', 'iops_sec_max'] as const) {
    if (v[`total_${what}`] > 0 && (v[`read_${what}`] > 0 || v[`write_${what}`] > 0))
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `total and read/write ${what} cannot be set at the same time`,
        {
          field: `total_${what}`,
        },
      );
  }
  for (const dir of ['total', 'read', 'write'] as const)
    for (const kind of ['bytes', 'iops'] as const) {
      const base = `${dir}_${kind}_sec` as const;
      const max = `${base}_max` as const;
      if (v[max] > 0 && v[base] === 0)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `value '${max}' cannot be set if '${base}' is not set`,
          {
            field: max,
          },
        );
      if (v[max] > 0 && v[base] > v[max])
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `value '${base}' cannot be greater than '${max}'`, {
          field: base,
        });
    }
}

/** The `tunable` event's parameters: the disk as named, and each parameter given. */
function eventParams(disk: string, params: BlockIoTuneParams): Record<string, TypedParamValue> {
  const out: Record<string, TypedParamValue> = { 'blkdeviotune.disk': disk };
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    out[`blkdeviotune.${k}`] = typeof v === 'string' ? v : BigInt(v);
  }
  return out;
}

export async function setBlockIoTune(
  side: DomainListAccess,
  dom: DomainRef,
  disk: string,
  params: BlockIoTuneParams,
  opts: BlockIoTuneOptions,
): Promise<void> {
  const e = await side.owned(dom, opts, 'set the I/O limits of');
  await side.jobs.run(
    e.uuid,
    'set block io tune',
    async () => {
      const { live, config } = targets(e, opts);
      // every check before any change
      const liveDisk = live && e.live ? diskByName(e.live, disk, 'qemu') : undefined;
      const configDisk = config && e.config ? diskByName(e.config, disk, 'qemu') : undefined;
      const liveValues = liveDisk ? merged(iotuneValues(liveDisk.disk.iotune), params) : undefined;
      const configValues = configDisk ? merged(iotuneValues(configDisk.disk.iotune), params) : undefined;
      if (liveValues) validate(liveValues);
      if (configValues) validate(configValues);
      if (liveDisk && liveValues && e.live && e.runner) {
        const command = throttleCommand(e.live, liveDisk.disk, liveDisk.index, liveValues);
        await e.runner.hotplug.monitorJob(
          'block io tune',
          (qmp) =>
            qmp.execute(command.execute, command.arguments, opts.signal ? { signal: opts.signal } : {}),
          opts.signal,
        );
        commitLive(e, withDiskIotune(e.live, liveDisk.index, iotuneOf(liveValues)));
      }
      if (configDisk && configValues && e.config)
        commitConfig(side, e, withDiskIotune(e.config, configDisk.index, iotuneOf(configValues)));
      side.table.forward({
        type: 'tunable',
        domain: refOf(e),
        timestamp: Date.now(),
        params: eventParams(disk, params),
      });
    },
    opts.signal,
  );
}

/** `block_set_io_throttle` for the disk with these values (all zero lifts the limits). */
function throttleCommand(
  def: DomainDef,
  d: DiskDef,
  index: number,
  values: IotuneValues,
): { execute: string; arguments: Record<string, unknown> } {
  const field = `/domain/devices/disk[${index + 1}]`;
  if (
    d.source === undefined ||
    (d.source.file === undefined && d.source.dev === undefined && d.source.name === undefined)
  )
    throw new VirError(
      'OPERATION_INVALID',
      'qemu',
      `disk '${d.target.dev}' has no media: its limits apply once it has`,
      {
        field: 'disk',
      },
    );
  // with nothing set, the command still goes: zeros lift the limits QEMU holds
  const command = iotuneCommand(
    iotuneOf(values) ?? {},
    d.target.bus ?? 'ide',
    diskAlias(def, d),
    field,
    true,
  );
  if (!command) throw new VirError('INTERNAL_ERROR', 'qemu', 'no throttle command for the disk', { field });
  return command;
}

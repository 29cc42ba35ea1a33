/**
 * The test driver's metadata and block I/O tuning calls, as libvirt 9.0's
 * test driver has them (checked through python3-libvirt): metadata on the
 * running and/or the next-boot definition with a `metadata-change` event
 * for every call; I/O limits on one definition at a time, every rate no
 * higher than its burst, no `tunable` event (libvirt's test driver emits
 * none).
 *
 * @module
 */
import type { DomainDef } from '../../conf/domain/domain-def.js';
import {
  diskByName,
  type IotuneValues,
  iotuneOf,
  iotuneValues,
  withDiskIotune,
} from '../../conf/domain/iotune-edit.js';
import { metadataOf, withMetadata } from '../../conf/domain/metadata-edit.js';
import type {
  BlockIoTune,
  BlockIoTuneParams,
  GetMetadataOptions,
  SetMetadataOptions,
} from '../../domain-tuning.js';
import type { MetadataKind } from '../../driver.js';
import { VirError } from '../../errors.js';
import type { TestDomain, TestHost } from './test-host.js';

type Affect = { live?: boolean; config?: boolean };

/** libvirt's `virDomainObjGetDefs`: current is live when running, else the next-boot definition. */
function both(d: TestDomain, opts: Affect): { live: boolean; config: boolean } {
  const current = !opts.live && !opts.config;
  const live = current ? d.live !== undefined : opts.live === true;
  const config = current ? d.live === undefined : opts.config === true;
  if (live && !d.live) throw new VirError('OPERATION_INVALID', 'test', 'domain is not running');
  if (config && !d.persistent)
    throw new VirError('OPERATION_INVALID', 'test', 'transient domains do not have any persistent config');
  return { live, config };
}

/** libvirt's `virDomainObjGetOneDef`: exactly one definition. */
function one(d: TestDomain, opts: Affect): 'live' | 'config' {
  if (opts.live && opts.config)
    throw new VirError(
      'INVALID_ARG',
      'test',
      "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
      { field: 'flags' },
    );
  const { live } = both(d, opts);
  return live ? 'live' : 'config';
}

function defOf(d: TestDomain, which: 'live' | 'config'): DomainDef {
  return which === 'live' && d.live ? d.live.def : d.config;
}

function replace(d: TestDomain, which: 'live' | 'config', def: DomainDef): void {
  if (which === 'live' && d.live) d.live.def = def;
  else d.config = def;
}

export function setMetadata(
  host: TestHost,
  d: TestDomain,
  kind: MetadataKind,
  value: string | null,
  opts: SetMetadataOptions,
): void {
  const { live, config } = both(d, opts);
  // both built before either is replaced: a refused element changes nothing
  const nextLive = live && d.live ? withMetadata(d.live.def, kind, value, opts.key, opts.uri) : undefined;
  const nextConfig = config ? withMetadata(d.config, kind, value, opts.key, opts.uri) : undefined;
  if (nextLive) replace(d, 'live', nextLive);
  if (nextConfig) replace(d, 'config', nextConfig);
  host.dispatch({
    type: 'metadata-change',
    domain: { name: d.name, uuid: d.uuid, id: d.id },
    timestamp: Date.now(),
    kind,
    ...(kind === 'element' && opts.uri !== undefined ? { nsuri: opts.uri } : {}),
  });
}

export function getMetadata(d: TestDomain, kind: MetadataKind, opts: GetMetadataOptions): string {
  return metadataOf(defOf(d, one(d, opts)), kind, opts.uri);
}

export function getBlockIoTune(d: TestDomain, disk: string, opts: Affect): BlockIoTune {
  return iotuneValues(diskByName(defOf(d, one(d, opts)), disk, 'test').disk.iotune);
}

/** The pairs libvirt's test driver checks: a total and its read/write parts are exclusive. */
const EXCLUSIVE = ['bytes_sec', 'iops_sec', 'bytes_sec_max', 'iops_sec_max'] as const;
const CAPPED = [
  'total_bytes_sec',
  'read_bytes_sec',
  'write_bytes_sec',
  'total_iops_sec',
  'read_iops_sec',
  'write_iops_sec',
] as const;

export function setBlockIoTune(d: TestDomain, disk: string, params: BlockIoTuneParams, opts: Affect): void {
  const which = one(d, opts);
  const def = defOf(d, which);
  const found = diskByName(def, disk, 'test');
  const values: IotuneValues = { ...iotuneValues(found.disk.iotune) };
  for (const [k, v] of Object.entries(params))
    if (v !== undefined) (values as Record<string, unknown>)[k] = v;
  for (const what of EXCLUSIVE) {
    const total = values[`total_${what}`];
    if (total > 0 && (values[`read_${what}`] > 0 || values[`write_${what}`] > 0))
      throw new VirError(
        'INVALID_ARG',
        'test',
        `total and read/write of ${what} cannot be set at the same time`,
        {
          field: `total_${what}`,
        },
      );
  }
  for (const name of CAPPED) {
    // libvirt's test driver compares each rate with its burst even when no burst is set
    if (values[name] > values[`${name}_max`])
      throw new VirError('INVALID_ARG', 'test', `${name} cannot be set higher than ${name}_max `, {
        field: name,
      });
  }
  replace(d, which, withDiskIotune(def, found.index, iotuneOf(values)));
}

/**
 * The argument types and checks of `Domain.setMetadata` / `getMetadata` and
 * `Domain.setBlockIoTune` / `getBlockIoTune`: what libvirt's client library
 * checks before a call reaches a driver, so every driver sees the same
 * arguments and refuses the same way.
 *
 * @module
 */
import type { MetadataKind } from './domain-events.js';
import type { CallOptions } from './driver-objects.js';
import { VirError } from './errors.js';

/** Options of `Domain.setMetadata`. */
export interface SetMetadataOptions extends CallOptions {
  /** For `element`: the namespace prefix the element is written with (required unless removing). */
  key?: string;
  /** For `element`: the namespace URI that names the application's element. */
  uri?: string;
  /** Change the persistent definition. */
  config?: boolean;
  /** Change the running guest. */
  live?: boolean;
}

/** Options of `Domain.getMetadata`. */
export interface GetMetadataOptions extends CallOptions {
  /** For `element`: the namespace URI of the element to read. */
  uri?: string;
  /** Read the persistent definition. */
  config?: boolean;
  /** Read the running guest's. */
  live?: boolean;
}

const KINDS: readonly MetadataKind[] = ['description', 'title', 'element'];

/** libvirt's `virDomainSetMetadata` argument checks (`INVALID_ARG` naming the argument). */
export function checkSetMetadata(kind: MetadataKind, value: string | null, opts: SetMetadataOptions): void {
  checkKind(kind);
  if (value !== null && typeof value !== 'string')
    throw new VirError('INVALID_ARG', 'domain', 'metadata must be a string or null', { field: 'metadata' });
  if (kind === 'title' && value?.includes('\n'))
    throw new VirError('INVALID_ARG', 'domain', "metadata title can't contain newlines", {
      field: 'metadata',
    });
  if (kind === 'element') {
    if (opts.uri === undefined) throw mustBe('uri', 'not be NULL');
    if (value !== null && opts.key === undefined) throw mustBe('key', 'not be NULL');
  } else {
    if (opts.uri !== undefined) throw mustBe('uri', 'be NULL');
    if (opts.key !== undefined) throw mustBe('key', 'be NULL');
  }
}

/** libvirt's `virDomainGetMetadata` argument checks. */
export function checkGetMetadata(kind: MetadataKind, opts: GetMetadataOptions): void {
  checkKind(kind);
  if (kind === 'element' && opts.uri === undefined) throw mustBe('uri', 'not be NULL');
  if (kind !== 'element' && opts.uri !== undefined) throw mustBe('uri', 'be NULL');
}

function checkKind(kind: MetadataKind): void {
  if (!KINDS.includes(kind))
    throw new VirError('INVALID_ARG', 'domain', `unknown metadata type '${String(kind)}'`, { field: 'type' });
}

function mustBe(arg: 'uri' | 'key', what: string): VirError {
  return new VirError('INVALID_ARG', 'domain', `${arg} in virDomainSetMetadata must ${what}`, { field: arg });
}

/** The unsigned numeric block I/O tuning parameters, in libvirt's order (`VIR_DOMAIN_BLOCK_IOTUNE_*`). */
export const BLOCK_IOTUNE_NUMBERS = [
  'total_bytes_sec',
  'read_bytes_sec',
  'write_bytes_sec',
  'total_iops_sec',
  'read_iops_sec',
  'write_iops_sec',
  'total_bytes_sec_max',
  'read_bytes_sec_max',
  'write_bytes_sec_max',
  'total_iops_sec_max',
  'read_iops_sec_max',
  'write_iops_sec_max',
  'size_iops_sec',
  'total_bytes_sec_max_length',
  'read_bytes_sec_max_length',
  'write_bytes_sec_max_length',
  'total_iops_sec_max_length',
  'read_iops_sec_max_length',
  'write_iops_sec_max_length',
] as const;

/** One numeric block I/O tuning parameter, by libvirt's name. */
export type BlockIoTuneNumber = (typeof BLOCK_IOTUNE_NUMBERS)[number];

/**
 * A disk's I/O limits, by libvirt's typed parameter names: bytes or
 * operations per second, the burst (`_max`) and its length in seconds
 * (`_max_length`), `size_iops_sec`, and the throttle group. 0 means no limit.
 */
export type BlockIoTune = { [K in BlockIoTuneNumber]: number } & {
  /** The throttle group the disk shares its limits with; empty for none. */
  group_name: string;
};

/** What `setBlockIoTune` takes: the parameters to change; the others keep their values. */
export type BlockIoTuneParams = Partial<BlockIoTune>;

/** Options of `Domain.setBlockIoTune` and `getBlockIoTune`. */
export interface BlockIoTuneOptions extends CallOptions {
  /** The persistent definition. */
  config?: boolean;
  /** The running guest. */
  live?: boolean;
}

/** libvirt's (and QEMU's) largest limit: 10^15. */
export const BLOCK_IOTUNE_MAX = 1_000_000_000_000_000;

/** The parameters checked: known names, typed values in range (libvirt's `virTypedParamsValidate` and range check). */
export function checkBlockIoTune(disk: string, params: BlockIoTuneParams): void {
  if (typeof disk !== 'string' || disk === '')
    throw new VirError('INVALID_ARG', 'domain', 'disk must be a non-empty string', { field: 'disk' });
  if (params === null || typeof params !== 'object')
    throw new VirError('INVALID_ARG', 'domain', 'parameters must be an object', { field: 'params' });
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (name === 'group_name') {
      if (typeof value !== 'string')
        throw new VirError('INVALID_ARG', 'domain', `invalid type for parameter '${name}'`, { field: name });
      continue;
    }
    if (!(BLOCK_IOTUNE_NUMBERS as readonly string[]).includes(name))
      throw new VirError('ARGUMENT_UNSUPPORTED', 'domain', `parameter '${name}' not supported`, {
        field: name,
      });
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
      throw new VirError('INVALID_ARG', 'domain', `invalid value for parameter '${name}'`, { field: name });
    if (value > BLOCK_IOTUNE_MAX)
      throw new VirError(
        'ARGUMENT_UNSUPPORTED',
        'domain',
        `block I/O throttle limit value must be no more than ${BLOCK_IOTUNE_MAX}`,
        { field: name },
      );
  }
}

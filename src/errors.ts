/**
 * The one error type virtkit raises.
 *
 * Every failure that leaves the public API is a {@link VirError}: callers can
 * switch on `code` (stable across releases, spelled like libvirt's
 * `VIR_ERR_*` names without the prefix) and on `domain` (the subsystem that
 * raised it). XML errors also carry the `line` and `column` at fault, and
 * model errors name the `field` (an XPath-like location such as
 * `/domain/devices/disk[2]/target/@dev`).
 *
 * @module
 */

/**
 * Stable error codes. These are libvirt's error numbers by name (its
 * `virErrorNumber`), so code written against libvirt's bindings reads the
 * same, plus nothing of our own: where libvirt has no better code we use
 * `INTERNAL_ERROR` or `OPERATION_FAILED` as it does.
 */
export const VIR_ERROR_CODES = [
  'INTERNAL_ERROR',
  'NO_MEMORY',
  'NO_SUPPORT',
  'UNKNOWN_HOST',
  'NO_CONNECT',
  'INVALID_CONN',
  'INVALID_DOMAIN',
  'INVALID_ARG',
  'OPERATION_FAILED',
  'OS_TYPE',
  'NO_KERNEL',
  'NO_ROOT',
  'NO_SOURCE',
  'NO_TARGET',
  'NO_NAME',
  'NO_OS',
  'NO_DEVICE',
  'CALL_FAILED',
  'XML_ERROR',
  'DOM_EXIST',
  'OPERATION_DENIED',
  'OPEN_FAILED',
  'READ_FAILED',
  'PARSE_FAILED',
  'CONF_SYNTAX',
  'WRITE_FAILED',
  'XML_DETAIL',
  'SYSTEM_ERROR',
  'RPC',
  'NO_DOMAIN',
  'AUTH_FAILED',
  'OPERATION_INVALID',
  'NO_DOMAIN_SNAPSHOT',
  'CONFIG_UNSUPPORTED',
  'OPERATION_TIMEOUT',
  'MIGRATE_PERSIST_FAILED',
  'CPU_INCOMPATIBLE',
  'OPERATION_ABORTED',
  'AUTH_CANCELLED',
  'NO_DOMAIN_METADATA',
  'MIGRATE_UNSAFE',
  'OVERFLOW',
  'BLOCK_COPY_ACTIVE',
  'OPERATION_UNSUPPORTED',
  'SSH',
  'AGENT_UNRESPONSIVE',
  'RESOURCE_BUSY',
  'ACCESS_DENIED',
  'DBUS_SERVICE',
  'STORAGE_VOL_EXIST',
  'CPU_INCOMPATIBLE_MODEL',
  'ARGUMENT_UNSUPPORTED',
  'DEVICE_MISSING',
  'AGENT_COMMAND_TIMEOUT',
  'NO_HOSTNAME',
  'CHECKPOINT_INCONSISTENT',
  'MULTIPLE_DOMAINS',
  'NO_NETWORK_METADATA',
  'GUEST_AGENT_COMMAND_INVALID',
  // objects next to domains: storage, networks, node devices, interfaces, filters, secrets
  'NO_NETWORK',
  'NO_STORAGE_POOL',
  'NO_STORAGE_VOL',
  'NO_NODE_DEVICE',
  'NO_INTERFACE',
  'NO_NWFILTER',
  'NO_SECRET',
  'INVALID_SECRET',
  'NETWORK_EXIST',
  'NO_NETWORK_PORT',
  'NETWORK_PORT_EXIST',
  'STORAGE_POOL_BUILT',
] as const;

/** One of `VIR_ERROR_CODES`. */
export type VirErrorCode = (typeof VIR_ERROR_CODES)[number];

/** The subsystem an error comes from (libvirt's `virErrorDomain`, in our own words). */
export type VirErrorDomain =
  | 'none'
  | 'xml'
  | 'schema'
  | 'conf'
  | 'domain'
  | 'storage'
  | 'network'
  | 'secret'
  | 'nodedev'
  | 'capabilities'
  | 'cpu'
  | 'machine'
  | 'connect'
  | 'test'
  | 'qemu'
  | 'qmp'
  | 'remote'
  | 'rpc'
  | 'cli';

/** Optional facts an error can carry. */
export interface VirErrorDetails {
  /** 1-based line of the XML input at fault. */
  line?: number;
  /** 1-based column of the XML input at fault. */
  column?: number;
  /** Location of the field at fault, e.g. `/cpu/feature[3]/@policy`. */
  field?: string;
  /** libvirt's numeric error code, when the error came from a libvirt daemon. */
  libvirtCode?: number;
  /** libvirt's numeric error domain, when the error came from a libvirt daemon. */
  libvirtDomain?: number;
  /** The underlying error, kept for debugging; never part of the contract. */
  cause?: unknown;
}

/**
 * virtkit's one error type: a stable `code` to switch on, the subsystem in `domain`, and where the
 * input was wrong (`line`, `column`, `field`) when it comes from a document.
 */
export class VirError extends Error {
  /** Always `VirError`, so logs and `JSON.stringify` say what it is. */
  override readonly name = 'VirError';
  /**
   * What went wrong, as libvirt's error number name (`NO_DOMAIN`, `XML_ERROR`, ...); stable across
   * releases.
   */
  readonly code: VirErrorCode;
  /** The subsystem that raised it (`conf`, `qemu`, `remote`, ...). */
  readonly domain: VirErrorDomain;
  /** The 1-based line of the XML at fault, for document errors. */
  readonly line: number | undefined;
  /** The 1-based column of the XML at fault, when known. */
  readonly column: number | undefined;
  /** An XPath-like location of the field at fault, e.g. `/domain/devices/disk[2]/target/@dev`. */
  readonly field: string | undefined;
  /** libvirt's numeric error code, when a libvirt daemon raised it. */
  readonly libvirtCode: number | undefined;
  /** libvirt's numeric error domain, when a libvirt daemon raised it. */
  readonly libvirtDomain: number | undefined;

  constructor(code: VirErrorCode, domain: VirErrorDomain, message: string, details: VirErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.domain = domain;
    this.line = details.line;
    this.column = details.column;
    this.field = details.field;
    this.libvirtCode = details.libvirtCode;
    this.libvirtDomain = details.libvirtDomain;
  }

  /** A plain object for logs and JSON APIs (`JSON.stringify(err)` uses it). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      name: this.name,
      code: this.code,
      domain: this.domain,
      message: this.message,
    };
    if (this.line !== undefined) out.line = this.line;
    if (this.column !== undefined) out.column = this.column;
    if (this.field !== undefined) out.field = this.field;
    if (this.libvirtCode !== undefined) out.libvirtCode = this.libvirtCode;
    return out;
  }
}

/** True when `err` is a {@link VirError}, optionally with the given code. */
export function isVirError(err: unknown, code?: VirErrorCode): err is VirError {
  return err instanceof VirError && (code === undefined || err.code === code);
}

/**
 * Wraps anything thrown by code we call (Node, a dependency) into a VirError,
 * so that nothing else escapes the public API. A VirError passes through.
 */
export function toVirError(
  err: unknown,
  code: VirErrorCode,
  domain: VirErrorDomain,
  context?: string,
): VirError {
  if (err instanceof VirError) return err;
  if (isAbortError(err)) {
    return new VirError(
      'OPERATION_ABORTED',
      domain,
      context ? `${context}: operation aborted` : 'operation aborted',
      {
        cause: err,
      },
    );
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new VirError(code, domain, context ? `${context}: ${detail}` : detail, { cause: err });
}

function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

/**
 * Throws `OPERATION_ABORTED` when the signal has fired. Call at every point
 * where an async operation can stop without leaving anything half-done.
 */
export function throwIfAborted(signal: AbortSignal | undefined, domain: VirErrorDomain = 'none'): void {
  if (signal?.aborted) {
    const reason = signal.reason;
    if (reason instanceof VirError) throw reason;
    throw new VirError('OPERATION_ABORTED', domain, 'operation aborted', { cause: reason });
  }
}

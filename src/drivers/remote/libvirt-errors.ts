/**
 * libvirt's numeric error codes and domains (facts of its public
 * `virErrorNumber` / `virErrorDomain` enums) and their translation into
 * {@link VirError}. A number virtkit has no code for becomes
 * `INTERNAL_ERROR`, with the original number kept in `libvirtCode`.
 */
import { VIR_ERROR_CODES, VirError, type VirErrorCode, type VirErrorDomain } from '../../errors.js';
import type { VirNetMessageError } from './gen/virnet-protocol.js';

/** `virErrorNumber` by value; `undefined` holes are numbers libvirt never assigned. */
export const LIBVIRT_ERROR_NAMES: readonly string[] = [
  'OK',
  'INTERNAL_ERROR',
  'NO_MEMORY',
  'NO_SUPPORT',
  'UNKNOWN_HOST',
  'NO_CONNECT',
  'INVALID_CONN',
  'INVALID_DOMAIN',
  'INVALID_ARG',
  'OPERATION_FAILED',
  'GET_FAILED', // 10
  'POST_FAILED',
  'HTTP_ERROR',
  'SEXPR_SERIAL',
  'NO_XEN',
  'XEN_CALL',
  'OS_TYPE',
  'NO_KERNEL',
  'NO_ROOT',
  'NO_SOURCE',
  'NO_TARGET', // 20
  'NO_NAME',
  'NO_OS',
  'NO_DEVICE',
  'NO_XENSTORE',
  'DRIVER_FULL',
  'CALL_FAILED',
  'XML_ERROR',
  'DOM_EXIST',
  'OPERATION_DENIED',
  'OPEN_FAILED', // 30
  'READ_FAILED',
  'PARSE_FAILED',
  'CONF_SYNTAX',
  'WRITE_FAILED',
  'XML_DETAIL',
  'INVALID_NETWORK',
  'NETWORK_EXIST',
  'SYSTEM_ERROR',
  'RPC',
  'GNUTLS_ERROR', // 40
  'NO_NETWORK_WARNING', // VIR_WAR_NO_NETWORK
  'NO_DOMAIN',
  'NO_NETWORK',
  'INVALID_MAC',
  'AUTH_FAILED',
  'INVALID_STORAGE_POOL',
  'INVALID_STORAGE_VOL',
  'NO_STORAGE_WARNING', // VIR_WAR_NO_STORAGE
  'NO_STORAGE_POOL',
  'NO_STORAGE_VOL', // 50
  'NO_NODE_WARNING', // VIR_WAR_NO_NODE
  'INVALID_NODE_DEVICE',
  'NO_NODE_DEVICE',
  'NO_SECURITY_MODEL',
  'OPERATION_INVALID',
  'NO_INTERFACE_WARNING', // VIR_WAR_NO_INTERFACE
  'NO_INTERFACE',
  'INVALID_INTERFACE',
  'MULTIPLE_INTERFACES',
  'NO_NWFILTER_WARNING', // 60, VIR_WAR_NO_NWFILTER
  'INVALID_NWFILTER',
  'NO_NWFILTER',
  'BUILD_FIREWALL',
  'NO_SECRET_WARNING', // VIR_WAR_NO_SECRET
  'INVALID_SECRET',
  'NO_SECRET',
  'CONFIG_UNSUPPORTED',
  'OPERATION_TIMEOUT',
  'MIGRATE_PERSIST_FAILED',
  'HOOK_SCRIPT_FAILED', // 70
  'INVALID_DOMAIN_SNAPSHOT',
  'NO_DOMAIN_SNAPSHOT',
  'INVALID_STREAM',
  'ARGUMENT_UNSUPPORTED',
  'STORAGE_PROBE_FAILED',
  'STORAGE_POOL_BUILT',
  'SNAPSHOT_REVERT_RISKY',
  'OPERATION_ABORTED',
  'AUTH_CANCELLED',
  'NO_DOMAIN_METADATA', // 80
  'MIGRATE_UNSAFE',
  'OVERFLOW',
  'BLOCK_COPY_ACTIVE',
  'OPERATION_UNSUPPORTED',
  'SSH',
  'AGENT_UNRESPONSIVE',
  'RESOURCE_BUSY',
  'ACCESS_DENIED',
  'DBUS_SERVICE',
  'STORAGE_VOL_EXIST', // 90
  'CPU_INCOMPATIBLE',
  'XML_INVALID_SCHEMA',
  'MIGRATE_FINISH_OK',
  'AUTH_UNAVAILABLE',
  'NO_SERVER',
  'NO_CLIENT',
  'AGENT_UNSYNCED',
  'LIBSSH',
  'DEVICE_MISSING',
  'INVALID_NWFILTER_BINDING', // 100
  'NO_NWFILTER_BINDING',
  'INVALID_DOMAIN_CHECKPOINT',
  'NO_DOMAIN_CHECKPOINT',
  'NO_DOMAIN_BACKUP',
  'INVALID_NETWORK_PORT',
  'NETWORK_PORT_EXIST',
  'NO_NETWORK_PORT',
  'NO_HOSTNAME',
  'CHECKPOINT_INCONSISTENT',
  'MULTIPLE_DOMAINS', // 110
];

/** `virErrorNumber` values this module refers to by name. */
export const LibvirtError = {
  INTERNAL_ERROR: 1,
  NO_SUPPORT: 3,
  RPC: 39,
  NO_DOMAIN: 42,
  AUTH_FAILED: 45,
  OPERATION_INVALID: 55,
} as const;

const KNOWN: ReadonlySet<string> = new Set(VIR_ERROR_CODES);

/** Our code for a libvirt error number (`INTERNAL_ERROR` when we have none). */
export function errorCodeFromLibvirt(code: number): VirErrorCode {
  const name = LIBVIRT_ERROR_NAMES[code];
  return name !== undefined && KNOWN.has(name) ? (name as VirErrorCode) : 'INTERNAL_ERROR';
}

/** libvirt's number for one of our codes (for tests and diagnostics). */
export function libvirtNumberOf(code: VirErrorCode): number {
  return LIBVIRT_ERROR_NAMES.indexOf(code);
}

/** `virErrorDomain` values that have a counterpart among our error domains. */
const DOMAINS: Readonly<Record<number, VirErrorDomain>> = {
  5: 'xml',
  6: 'domain',
  7: 'rpc',
  9: 'conf',
  10: 'qemu',
  12: 'test',
  13: 'remote',
  20: 'domain',
  31: 'cpu',
  44: 'capabilities',
};

export function errorDomainFromLibvirt(domain: number): VirErrorDomain {
  return DOMAINS[domain] ?? 'remote';
}

/** The VirError for a `remote_error` a daemon sent in reply to `procedureName`. */
export function virErrorFromRemote(err: VirNetMessageError, procedureName?: string): VirError {
  let code = errorCodeFromLibvirt(err.code);
  let message = err.message ?? `libvirt error ${err.code}`;
  // an older daemon rejects procedures it does not know with a generic RPC error
  if (err.code === LibvirtError.RPC && procedureName !== undefined && /unknown procedure/i.test(message)) {
    code = 'NO_SUPPORT';
    message = `${message} (the daemon does not support ${procedureName})`;
  }
  return new VirError(code, errorDomainFromLibvirt(err.domain), message, {
    libvirtCode: err.code,
    libvirtDomain: err.domain,
  });
}

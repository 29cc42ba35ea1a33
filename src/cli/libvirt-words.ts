/**
 * Errors and sizes worded as virsh words them for the storage, network,
 * node device and secret commands: libvirt prefixes an error's message with
 * a phrase for its code (`Storage pool not found: ...`), and virsh prints
 * what it tried on one `error:` line and that cause on the next.
 *
 * @module
 */
import { isVirError } from '../errors.js';
import { CliError, describeError } from './command.js';

// libvirt's phrase for each error code these commands meet (facts from its error table).
const CODE_PHRASES: Readonly<Record<string, string>> = {
  NO_STORAGE_POOL: 'Storage pool not found',
  NO_STORAGE_VOL: 'Storage volume not found',
  NO_NETWORK: 'Network not found',
  NO_NODE_DEVICE: 'Node device not found',
  NO_SECRET: 'Secret not found',
  OPERATION_INVALID: 'Requested operation is not valid',
  OPERATION_FAILED: 'operation failed',
  INVALID_ARG: 'invalid argument',
  XML_ERROR: 'XML error',
  INTERNAL_ERROR: 'internal error',
  CONFIG_UNSUPPORTED: 'unsupported configuration',
  NO_SUPPORT: 'this function is not supported by the connection driver',
  OPERATION_UNSUPPORTED: 'Operation not supported',
  ARGUMENT_UNSUPPORTED: 'argument unsupported',
  STORAGE_POOL_BUILT: 'storage pool already built',
  OPERATION_DENIED: 'operation forbidden',
  NO_DOMAIN_SNAPSHOT: 'Domain snapshot not found',
};

/** A library error as libvirt words it: its code's phrase, then its message. */
export function libvirtMessage(e: unknown): string {
  if (e instanceof CliError) return e.message;
  const message = describeError(e);
  if (!isVirError(e)) return message;
  // a daemon's error arrives worded already (and libvirt words some without a phrase)
  if (e.libvirtCode !== undefined) return message;
  const phrase = CODE_PHRASES[e.code];
  return phrase && !message.startsWith(phrase) ? `${phrase}: ${message}` : message;
}

/** virsh's two error lines: what failed, then why (`error: ` is added by the session). */
export function failure(what: string, e: unknown): CliError {
  if (e instanceof CliError) return e;
  return new CliError(`${what}\nerror: ${libvirtMessage(e)}`);
}

/** Runs a library call; a failure becomes {@link failure}'s two lines. */
export async function tryTo<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw failure(what, e);
  }
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** Bytes as virsh's pretty capacity: `%.2f` in the largest binary unit under 1024 of it. */
export function prettyBytes(bytes: bigint): string {
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(2)} ${UNITS[unit]}`;
}

// virsh's scaled-integer suffixes: a bare letter or `iB` is binary, `B` after a letter decimal.
const SCALES: Record<string, bigint> = { '': 1n, b: 1n };
for (const [i, letter] of ['k', 'm', 'g', 't', 'p', 'e'].entries()) {
  const n = BigInt(i + 1);
  SCALES[letter] = 1024n ** n;
  SCALES[`${letter}ib`] = 1024n ** n;
  SCALES[`${letter}b`] = 1000n ** n;
}

/** A size such as `10M`, `1GiB` or `1000KB` in bytes; `Malformed size` as virsh says otherwise. */
export function parseSize(value: string): bigint {
  const m = /^(\d+)(.*)$/s.exec(value);
  if (!m) throw new CliError(`Malformed size ${value}`);
  const scale = SCALES[(m[2] as string).toLowerCase()];
  if (scale === undefined) {
    throw new CliError(`Malformed size ${value}\nerror: invalid argument: unknown suffix '${m[2]}'`);
  }
  return BigInt(m[1] as string) * scale;
}

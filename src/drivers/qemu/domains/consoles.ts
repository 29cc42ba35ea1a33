/**
 * Guest consoles of the QEMU driver (`virDomainOpenConsole`): which
 * character device a name means, opening its host end as a byte stream,
 * and the one-session-per-device rule.
 *
 * Device names are the aliases the live XML shows (`chardev-aliases.ts`).
 * Like libvirt, a name is looked up among the consoles first, then the
 * serial and parallel ports; without a name the first console is taken,
 * else the first serial port. Two backends have a host end we can open: a
 * pty (its path QEMU reported at start, in the live definition) and a unix
 * socket QEMU listens on. Anything else is refused with the field at fault.
 *
 * @module
 */
import { constants, openSync } from 'node:fs';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { ReadStream } from 'node:tty';
import type { ChardevDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import { throwIfAborted, toVirError, VirError } from '../../../errors.js';
import { consoleAlias } from './chardev-aliases.js';

/** The device a console name resolved to. */
export interface ConsoleDevice {
  readonly alias: string;
  readonly chardev: ChardevDef;
  /** Where it is in the definition (`/domain/devices/serial[1]`), for errors. */
  readonly field: string;
}

/** The device `name` means in `def` (see the module comment); `INTERNAL_ERROR` when none, as libvirt says. */
export function findConsoleDevice(def: DomainDef, name: string | undefined): ConsoleDevice {
  const dev = def.devices ?? {};
  const serials = dev.serials ?? [];
  const consoles = (dev.consoles ?? []).map((c, i) => consoleDevice(c, i, serials));
  const ports: ConsoleDevice[] = [
    ...serials.map((s, i) => ({
      alias: `serial${i}`,
      chardev: s,
      field: `/domain/devices/serial[${i + 1}]`,
    })),
    ...(dev.parallels ?? []).map((p, i) => ({
      alias: `parallel${i}`,
      chardev: p,
      field: `/domain/devices/parallel[${i + 1}]`,
    })),
  ];
  const found =
    name === undefined
      ? (consoles[0] ?? ports.find((p) => p.alias === 'serial0'))
      : (consoles.find((c) => c.alias === name) ?? ports.find((p) => p.alias === name));
  if (!found) {
    throw new VirError(
      'INTERNAL_ERROR',
      'qemu',
      `cannot find character device ${name ?? '(default console)'}`,
    );
  }
  return found;
}

/** A serial-type first console is the first serial port itself (one device, two elements). */
function consoleDevice(c: ChardevDef, i: number, serials: readonly ChardevDef[]): ConsoleDevice {
  const alias = consoleAlias(c, i, serials.length);
  const serial = alias === 'serial0' ? serials[0] : undefined;
  if (serial) return { alias, chardev: serial, field: '/domain/devices/serial[1]' };
  return { alias, chardev: c, field: `/domain/devices/console[${i + 1}]` };
}

/** The host path of a device we can open, or why not. */
export function consoleEndpoint(device: ConsoleDevice): { kind: 'pty' | 'unix'; path: string } {
  const { chardev: c, field } = device;
  const path = c.sources?.[0]?.path;
  if (c.type === 'pty') {
    // QEMU names the pty at start; the live definition has it from then on.
    if (!path)
      throw new VirError('OPERATION_FAILED', 'qemu', `${device.alias}: PTY device is not yet assigned`);
    return { kind: 'pty', path };
  }
  if (c.type === 'unix') {
    if (!path)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${device.alias}: the unix socket has no path`, {
        field: `${field}/source/@path`,
      });
    // With mode='connect' QEMU is the client: there is no listening end for us to join.
    if (c.sources?.[0]?.mode === 'connect')
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `${device.alias}: QEMU connects out on this unix socket; a console needs mode='bind'`,
        { field: `${field}/source/@mode` },
      );
    return { kind: 'unix', path };
  }
  throw new VirError(
    'CONFIG_UNSUPPORTED',
    'qemu',
    `${device.alias}: a console cannot be opened on a '${c.type}' character device (only pty and unix)`,
    { field: `${field}/@type` },
  );
}

/** Opens the host end: the pty in raw mode, or a connection to QEMU's socket. */
export async function openEndpoint(
  endpoint: { kind: 'pty' | 'unix'; path: string },
  signal: AbortSignal | undefined,
): Promise<Duplex> {
  throwIfAborted(signal, 'qemu');
  if (endpoint.kind === 'pty') {
    let fd: number;
    try {
      // O_NOCTTY: the guest's pty must never become our controlling terminal.
      fd = openSync(endpoint.path, constants.O_RDWR | constants.O_NOCTTY);
    } catch (err) {
      throw toVirError(err, 'SYSTEM_ERROR', 'qemu', `cannot open console ${endpoint.path}`);
    }
    const stream = new ReadStream(fd);
    // QEMU makes its pty raw already; a console must pass every byte untouched whatever happened since.
    stream.setRawMode(true);
    return stream;
  }
  return new Promise((resolve, reject) => {
    const sock = connect(endpoint.path);
    const onAbort = () => {
      sock.destroy();
      try {
        throwIfAborted(signal, 'qemu');
      } catch (err) {
        reject(err);
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      resolve(sock);
    });
    sock.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(toVirError(err, 'SYSTEM_ERROR', 'qemu', `cannot connect to console socket ${endpoint.path}`));
    });
  });
}

/**
 * Open console sessions of one domain, by host path: a second open of the
 * same device is refused unless forced, which ends the first session, as
 * libvirt's console locking does.
 */
export class ConsoleSessions {
  readonly #open = new Map<string, Duplex>();

  async open(
    def: DomainDef,
    name: string | undefined,
    opts: { force?: boolean; signal?: AbortSignal },
  ): Promise<Duplex> {
    const endpoint = consoleEndpoint(findConsoleDevice(def, name));
    const current = this.#open.get(endpoint.path);
    if (current && !current.destroyed) {
      if (!opts.force)
        throw new VirError('OPERATION_FAILED', 'qemu', 'Active console session exists for this domain');
      current.destroy();
    }
    const stream = await openEndpoint(endpoint, opts.signal);
    this.#open.set(endpoint.path, stream);
    // A pty read fails with EIO once QEMU closes its end: that is the end of the session, not a fault.
    stream.on('error', () => {});
    stream.once('close', () => {
      if (this.#open.get(endpoint.path) === stream) this.#open.delete(endpoint.path);
    });
    return stream;
  }

  /** Ends every session (the guest stopped). */
  closeAll(): void {
    for (const s of this.#open.values()) s.destroy();
    this.#open.clear();
  }
}

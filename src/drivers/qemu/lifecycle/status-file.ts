/**
 * The live status of a running guest, kept in `<stateRoot>/qemu/<name>.xml`
 * so a restarted Node process can find its guests again.
 *
 * The file is ours (libvirt keeps a similar `<domstatus>` document): it
 * records the process identity (pid plus its start time and executable, so
 * a re-used pid is never mistaken for our QEMU), the monitor socket, the
 * state and reason, the runner's pending lifecycle facts, what the runner
 * knows of the guest (with the driver's own facts, `driverData`: node
 * numbers of plugged disks, the RTC's start adjustment), and the live
 * domain XML (with its id).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import type { DomainStateName } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import {
  childElements,
  element,
  firstChild,
  getAttr,
  parseXml,
  serializeXml,
  setAttr,
  text,
  textContent,
} from '../../../xml/index.js';
import { writeFileAtomic } from './atomic-file.js';
import type { RunnerGuest } from './runner-guest.js';

export interface DomainStatus {
  readonly state: DomainStateName;
  readonly reason: string;
  readonly id: number;
  readonly pid: number;
  /** `/proc/<pid>/stat` start time, to recognise the process. */
  readonly pidStart: string;
  readonly monitorPath: string;
  /** The QEMU binary that runs the guest. */
  readonly emulator: string;
  /** The guest sent SHUTDOWN and is waiting for us to act on it. */
  readonly gotShutdown: boolean;
  /** A reboot() asked for a reset at the next power-off. */
  readonly fakeReboot: boolean;
  readonly balloonKiB: number;
  /** The guest as the runner knows it; its `domainXml` is the live definition. */
  readonly guest: RunnerGuest;
}

export function formatStatus(status: DomainStatus): string {
  const { domainXml, ...guestRest } = status.guest;
  const domain = parseXml(domainXml);
  setAttr(domain, 'id', String(status.id));
  const root = element('domstatus', [
    { name: 'state', value: status.state },
    { name: 'reason', value: status.reason },
    { name: 'id', value: String(status.id) },
    { name: 'pid', value: String(status.pid) },
    { name: 'pidStart', value: status.pidStart },
    { name: 'gotShutdown', value: status.gotShutdown ? 'yes' : 'no' },
    { name: 'fakeReboot', value: status.fakeReboot ? 'yes' : 'no' },
    { name: 'balloonKiB', value: String(status.balloonKiB) },
    { name: 'emulator', value: status.emulator },
  ]);
  root.children.push(
    element('monitor', [
      { name: 'path', value: status.monitorPath },
      { name: 'type', value: 'unix' },
    ]),
    element('guest', [{ name: 'format', value: 'json' }], [text(JSON.stringify(guestRest))]),
    domain,
  );
  return serializeXml(root);
}

export function writeStatus(path: string, status: DomainStatus): void {
  // run state, as libvirt keeps it under /run: atomic for a reader racing the
  // write or a crash of this process, but not fsynced (see AtomicWriteOptions)
  writeFileAtomic(path, formatStatus(status), { durable: false });
}

/** Reads a status file; a missing file is `NO_DOMAIN`, a damaged one `INTERNAL_ERROR`. */
export function readStatus(path: string): DomainStatus {
  let xml: string;
  try {
    xml = readFileSync(path, 'utf8');
  } catch (err) {
    throw new VirError('NO_DOMAIN', 'qemu', `no status file ${path}: the domain is not running`, {
      cause: err,
    });
  }
  try {
    const root = parseXml(xml);
    const attr = (name: string): string => {
      const v = getAttr(root, name);
      if (v === undefined) throw new Error(`missing attribute ${name}`);
      return v;
    };
    const monitor = firstChild(root, 'monitor');
    const guestEl = firstChild(root, 'guest');
    const domainEl = childElements(root, 'domain')[0];
    if (!monitor || !guestEl || !domainEl) throw new Error('missing monitor, guest or domain element');
    // The id belongs to the run; the guest's definition has none.
    setAttr(domainEl, 'id', undefined);
    const domainXml = serializeXml(domainEl);
    const guest = { ...(JSON.parse(textContent(guestEl)) as RunnerGuest), domainXml };
    return {
      state: attr('state') as DomainStateName,
      reason: attr('reason'),
      id: Number(attr('id')),
      pid: Number(attr('pid')),
      pidStart: attr('pidStart'),
      monitorPath: getAttr(monitor, 'path') ?? '',
      emulator: attr('emulator'),
      gotShutdown: attr('gotShutdown') === 'yes',
      fakeReboot: attr('fakeReboot') === 'yes',
      balloonKiB: Number(attr('balloonKiB')),
      guest,
    };
  } catch (err) {
    throw new VirError('INTERNAL_ERROR', 'qemu', `damaged status file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * The ports of a running network on disk, as libvirt's network driver
 * keeps them: one `<networkport>` file per port in the network's state
 * directory (`<runRoot>/networks/<name>/ports/<uuid>.xml`), so a port
 * outlives the process that made it for as long as the network runs.
 * Written whole (atomic rename) but not fsynced: like the network's live
 * definition, the run root does not outlive the host's boot.
 *
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NetworkPortDef } from '../../../conf/network/port-def.js';
import { toVirError } from '../../../errors.js';
import { cleanStaleTemps, writeFileAtomic } from '../lifecycle/atomic-file.js';

/** The directory of network `name`'s ports. */
export function portsDir(stateDir: string, name: string): string {
  return join(stateDir, name, 'ports');
}

/** Writes one port's file (its UUID, checked by the parser, is the file name). */
export function savePort(stateDir: string, name: string, port: NetworkPortDef): void {
  const dir = portsDir(stateDir, name);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw toVirError(err, 'WRITE_FAILED', 'network', `cannot create ${dir}`);
  }
  writeFileAtomic(join(dir, `${port.uuid}.xml`), port.toXML(), { durable: false });
}

/** Removes one port's file (cleanup: never fails). */
export function removePort(stateDir: string, name: string, uuid: string): void {
  rmSync(join(portsDir(stateDir, name), `${uuid}.xml`), { force: true });
}

/** Removes the network's port directory and its own (cleanup at stop: never fails). */
export function removePorts(stateDir: string, name: string): void {
  rmSync(join(stateDir, name), { recursive: true, force: true });
}

/** The ports on disk; a file that does not parse, or whose name is not its UUID, is removed. */
export function loadPorts(stateDir: string, name: string): NetworkPortDef[] {
  const dir = portsDir(stateDir, name);
  cleanStaleTemps(dir);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.xml') && !f.startsWith('.'));
  } catch {
    return [];
  }
  const out: NetworkPortDef[] = [];
  for (const f of files.sort()) {
    try {
      const port = NetworkPortDef.fromXML(readFileSync(join(dir, f), 'utf8'));
      if (`${port.uuid}.xml` === f) {
        out.push(port);
        continue;
      }
    } catch {
      // a broken file is dropped below, as a port nobody can use
    }
    rmSync(join(dir, f), { force: true });
  }
  return out;
}

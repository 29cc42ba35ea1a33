/**
 * What a QEMU driver finds when it opens: the persistent definitions in its
 * config root, and the guests an earlier process (or connection) left
 * running, re-attached through their status files. A definition that cannot
 * be read is left on disk, as libvirt skips it; a status file whose guest
 * died while nobody watched is cleaned up by the re-attach.
 *
 * @module
 */
import { DomainDef } from '../../../conf/domain/index.js';
import { QemuDomainRunner, type RunnerOptions } from '../lifecycle/index.js';
import { cloneDef, type Entry } from './domain-entry.js';
import type { DomainTable } from './domain-table.js';
import { reserveLivePorts, restoreLivePorts } from './graphics-ports.js';

/** Fills `table`; `adopt` takes each re-attached runner. Returns the highest domain id in use. */
export async function loadDomains(
  table: DomainTable,
  options: RunnerOptions,
  adopt: (e: Entry, runner: QemuDomainRunner) => void,
): Promise<number> {
  for (const name of table.store.list()) {
    try {
      const def = DomainDef.fromXML(table.store.read(name));
      if (def.name !== name || !def.uuid || table.byUuid.has(def.uuid)) continue;
      table.insert(def, true);
    } catch {
      // A definition we cannot read is left on disk untouched, as libvirt skips it.
    }
  }
  let maxId = 0;
  for (const name of QemuDomainRunner.listStatus(options)) {
    let runner: QemuDomainRunner;
    try {
      runner = await QemuDomainRunner.reattach(name, options);
    } catch {
      // Unreadable status, or a monitor another process holds: not ours to manage.
      continue;
    }
    const guest = runner.guest;
    let e = table.byUuid.get(guest.uuid);
    if (e && e.name !== guest.name) {
      await runner.detach();
      continue;
    }
    const alive = runner.isActive;
    if (!e) {
      if (!alive) continue; // a transient guest that died while nobody watched
      e = {
        name: guest.name,
        uuid: guest.uuid,
        config: undefined,
        live: undefined,
        runner: undefined,
        unsubscribe: undefined,
      };
      table.byUuid.set(e.uuid, e);
    }
    adopt(e, runner);
    if (alive) {
      maxId = Math.max(maxId, runner.ref.id);
      try {
        e.live = DomainDef.fromXML(guest.domainXml);
        if (e.live) {
          delete e.live.id;
          restoreLivePorts(e.live, guest.domainXml);
        }
      } catch {
        e.live = e.config && cloneDef(e.config);
      }
      // Its display ports are still in use: no other guest may be given them.
      if (e.live) e.ports = reserveLivePorts(e.live);
    }
  }
  return maxId;
}

/**
 * A running guest's definition as another run of it starts from, like
 * libvirt's migratable XML: what a migration's destination boots, what a
 * save image and a memory snapshot carry, and the `<domain>` a snapshot
 * keeps. Only what this run chose for itself is taken back: a websocket
 * port picked here (the source still holds it) and the socket paths made up
 * for virtio channels in this run's directory, with their ports' states.
 * libvirt takes back only the paths named after a channel's target; an
 * unnamed channel's (`vioser-CC-BB-PP.sock`) would name a directory gone
 * with this run, so it is taken back too.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import { forgetChannelSockets } from './channel-sockets.js';
import { cloneDef, type Entry } from './domain-entry.js';
import { automaticPortsAgain } from './graphics-ports.js';

/** A copy of `e`'s live definition in migratable form; undefined when it is not running. */
export function migratableLive(e: Entry): DomainDef | undefined {
  if (!e.live) return undefined;
  const def = cloneDef(e.live);
  automaticPortsAgain(def, e.ports);
  const runDir = e.runner?.migration.core.paths.runDir;
  if (runDir !== undefined) forgetChannelSockets(def, runDir);
  return def;
}

/**
 * Domain snapshots of the test driver: what a snapshot remembers, how its
 * `<domainsnapshot>` document is read and written, and the tree they form
 * (each snapshot's parent is the domain's current snapshot when it was
 * taken). No disk or memory is saved, as in libvirt's test driver: a
 * snapshot holds the definition and the run state to go back to.
 *
 * @module
 */
import type { DomainDef } from '../../conf/domain/domain-def.js';
import { DomainSnapshotDef } from '../../conf/snapshot.js';
import type { DomainStateName } from '../../driver.js';
import { VirError } from '../../errors.js';
import { parseXml } from '../../xml/parse.js';
import { serializeXml } from '../../xml/serialize.js';
import { element, text, type XmlElement } from '../../xml/tree.js';

export interface TestSnapshot {
  readonly name: string;
  readonly description: string | undefined;
  /** The domain's state when the snapshot was taken. */
  readonly state: DomainStateName;
  parent: string | undefined;
  /** Seconds since the epoch. */
  readonly creationTime: number;
  /** The definition to go back to, with the memory and vCPU values of that moment. */
  readonly def: DomainDef;
}

/** The name and description a `<domainsnapshot>` asks for. */
export function parseSnapshotXml(xml: string): { name: string | undefined; description: string | undefined } {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (err) {
    if (err instanceof VirError && err.line !== undefined) {
      throw new VirError('XML_DETAIL', 'domain', err.message, { line: err.line, cause: err });
    }
    throw err;
  }
  if (root.name !== 'domainsnapshot') {
    throw new VirError(
      'XML_ERROR',
      'domain',
      `expecting root element of 'domainsnapshot', not '${root.name}'`,
    );
  }
  // the model's parse-time checks (memory file against its mode, disks named once) apply here too
  const def = DomainSnapshotDef.fromElement(root);
  const name = def.name ?? '';
  return { name: name === '' ? undefined : name, description: def.description };
}

/** The snapshot as libvirt writes it, with the domain definition it holds (`domain`). */
export function formatSnapshotXml(snap: TestSnapshot, domain: XmlElement): string {
  const root = element('domainsnapshot');
  const add = (name: string, value: string) => root.children.push(element(name, [], [text(value)]));
  add('name', snap.name);
  if (snap.description !== undefined) add('description', snap.description);
  add('state', snap.state);
  if (snap.parent !== undefined)
    root.children.push(element('parent', [], [element('name', [], [text(snap.parent)])]));
  add('creationTime', String(snap.creationTime));
  const active = snap.state !== 'shutoff';
  root.children.push(element('memory', [{ name: 'snapshot', value: active ? 'internal' : 'no' }]));
  root.children.push(domain);
  return serializeXml(root);
}

/** Names of `name` and every snapshot below it. */
export function descendants(snaps: ReadonlyMap<string, TestSnapshot>, name: string): Set<string> {
  const out = new Set([name]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of snaps.values()) {
      if (s.parent !== undefined && out.has(s.parent) && !out.has(s.name)) {
        out.add(s.name);
        grew = true;
      }
    }
  }
  return out;
}

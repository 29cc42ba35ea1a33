/**
 * Domain snapshots over libvirt's remote program: `DOMAIN_SNAPSHOT_CREATE_XML`,
 * `LIST_ALL_SNAPSHOTS` (each one's facts from its XML, the current one from
 * `DOMAIN_SNAPSHOT_CURRENT`), `GET_XML_DESC`, `REVERT_TO_SNAPSHOT` and
 * `SNAPSHOT_DELETE`, every option sent as libvirt's numeric flag.
 *
 * @module
 */
import { DomainSnapshotDef } from '../../conf/snapshot.js';
import type {
  CallOptions,
  DomainRef,
  DomainStateName,
  SnapshotCreateOptions,
  SnapshotDeleteOptions,
  SnapshotInfo,
  SnapshotRevertOptions,
  SnapshotXmlOptions,
} from '../../driver.js';
import { isVirError } from '../../errors.js';
import { remoteProcedures as P } from './gen/remote-protocol.js';
import type { RemoteCall } from './remote-object-values.js';
import { toRef, toRemote, uuidToBytes } from './remote-values.js';

/** `virDomainSnapshotCreateFlags`, bit by bit. */
const CREATE_BITS: readonly (keyof SnapshotCreateOptions)[] = [
  'redefine',
  'current',
  'noMetadata',
  'halt',
  'diskOnly',
  'reuseExt',
  'quiesce',
  'atomic',
  'live',
  'validate',
];
/** `virDomainSnapshotRevertFlags`, bit by bit. */
const REVERT_BITS: readonly (keyof SnapshotRevertOptions)[] = ['running', 'paused', 'force', 'resetNvram'];
/** `virDomainSnapshotDeleteFlags`, bit by bit. */
const DELETE_BITS: readonly (keyof SnapshotDeleteOptions)[] = ['children', 'metadataOnly', 'childrenOnly'];

/** The libvirt flag word of the options set to `true`. */
export function flagWord<T extends object>(opts: T, bits: readonly (keyof T)[]): number {
  return bits.reduce((n, k, bit) => (opts[k] === true ? n | (1 << bit) : n), 0);
}

export class RemoteSnapshots {
  readonly #call: RemoteCall;

  constructor(call: RemoteCall) {
    this.#call = call;
  }

  async create(dom: DomainRef, xml: string, opts: CallOptions & SnapshotCreateOptions = {}): Promise<string> {
    const ret = await this.#call(
      P.DOMAIN_SNAPSHOT_CREATE_XML,
      { dom: toRemote(dom), xml_desc: xml, flags: flagWord(opts, CREATE_BITS) },
      opts,
    );
    return ret.snap.name;
  }

  async xml(dom: DomainRef, name: string, opts: SnapshotXmlOptions = {}): Promise<string> {
    const ret = await this.#call(
      P.DOMAIN_SNAPSHOT_GET_XML_DESC,
      // VIR_DOMAIN_SNAPSHOT_XML_SECURE = 1
      { snap: { name, dom: toRemote(dom) }, flags: opts.secure ? 1 : 0 },
      opts,
    );
    return ret.xml;
  }

  async list(dom: DomainRef, opts: CallOptions = {}): Promise<SnapshotInfo[]> {
    const ret = await this.#call(
      P.DOMAIN_LIST_ALL_SNAPSHOTS,
      { dom: toRemote(dom), need_results: 1, flags: 0 },
      opts,
    );
    let current: string | undefined;
    try {
      current = (await this.#call(P.DOMAIN_SNAPSHOT_CURRENT, { dom: toRemote(dom), flags: 0 }, opts)).snap
        .name;
    } catch (err) {
      // no current snapshot is the daemon's NO_DOMAIN_SNAPSHOT
      if (!isVirError(err) || err.code !== 'NO_DOMAIN_SNAPSHOT') throw err;
    }
    const out: SnapshotInfo[] = [];
    for (const s of ret.snapshots) {
      const def = DomainSnapshotDef.fromXML(await this.xml(dom, s.name, opts));
      const state = def.state === 'disk-snapshot' || def.state === undefined ? 'shutoff' : def.state;
      out.push({
        name: s.name,
        state: state as DomainStateName,
        creationTime: def.creationTime ?? 0,
        current: s.name === current,
        ...(def.description !== undefined ? { description: def.description } : {}),
        ...(def.parentName !== undefined ? { parent: def.parentName } : {}),
      });
    }
    // oldest first; within one second (the time's unit) parents before children, then by name,
    // as the daemon lists them in no fixed order
    const parentOf = new Map(out.map((s) => [s.name, s.parent]));
    const depth = (n: string | undefined, seen = new Set<string>()): number =>
      n === undefined || seen.has(n) || !parentOf.has(n) ? 0 : 1 + depth(parentOf.get(n), seen.add(n));
    return out.sort(
      (a, b) =>
        a.creationTime - b.creationTime ||
        depth(a.parent) - depth(b.parent) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
  }

  async revert(
    dom: DomainRef,
    name: string,
    opts: CallOptions & SnapshotRevertOptions = {},
  ): Promise<DomainRef> {
    await this.#call(
      P.DOMAIN_REVERT_TO_SNAPSHOT,
      { snap: { name, dom: toRemote(dom) }, flags: flagWord(opts, REVERT_BITS) },
      opts,
    );
    // the domain's id may have changed: ask the daemon
    return toRef((await this.#call(P.DOMAIN_LOOKUP_BY_UUID, { uuid: uuidToBytes(dom.uuid) }, opts)).dom);
  }

  async delete(dom: DomainRef, name: string, opts: CallOptions & SnapshotDeleteOptions = {}): Promise<void> {
    await this.#call(
      P.DOMAIN_SNAPSHOT_DELETE,
      { snap: { name, dom: toRemote(dom) }, flags: flagWord(opts, DELETE_BITS) },
      opts,
    );
  }
}

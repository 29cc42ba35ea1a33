/**
 * The test driver's calls about definitions: define and create, undefine,
 * rename, memory and vCPU changes, and what a domain shows of itself (info,
 * XML, the typed definition). Each runs inside the domain's job, in one
 * synchronous step (see `TestConnection`).
 *
 * @module
 */
import type { DomainDef } from '../../conf/domain/domain-def.js';
import { leaveOutForMigrationOf, leaveOutSecretsOf } from '../../conf/domain/leave-out.js';
import type { CallOptions, DomainInfo, DomainRef, GetXmlOptions } from '../../driver.js';
import { VirError } from '../../errors.js';
import {
  detachedCopy,
  edited,
  formatDefinition,
  maxMemKiB,
  maxVcpus,
  memoryKiB,
  vcpus,
} from './test-definition.js';
import { type LiveState, ref, type TestDomain, type TestHost } from './test-host.js';

/** The most vCPUs the fake hypervisor gives one guest (libvirt's test driver says 32). */
export const TEST_MAX_VCPUS = 32;

/** Which definitions a memory or vCPU change is for. */
export type ChangeFlags = CallOptions & { config?: boolean; live?: boolean };

/** Defines a new persistent domain, or replaces the next-boot definition of one. */
export function define(host: TestHost, def: DomainDef): DomainRef {
  const existing = host.claim(def);
  if (existing) {
    const hadDef = existing.nextBootDef;
    existing.persistent = true;
    existing.nextBootDef = true;
    existing.config = def;
    host.emit(existing, 'defined', hadDef ? 'updated' : 'added');
    return ref(existing);
  }
  const d = host.insert(def, true);
  host.emit(d, 'defined', 'added');
  return ref(d);
}

/** Boots a definition: a new transient domain, or an inactive persistent one of that name and UUID. */
export function create(host: TestHost, def: DomainDef, paused: boolean): DomainRef {
  const existing = host.claim(def);
  if (existing && existing.id >= 0) {
    throw new VirError('OPERATION_INVALID', 'test', `domain '${existing.name}' is already active`);
  }
  // An inactive persistent domain of the same name and UUID boots this definition once.
  const d = existing ?? host.insert(def, false);
  host.boot(d, def, paused);
  return ref(d);
}

export function undefine(host: TestHost, d: TestDomain, withSnapshots: boolean): void {
  if (d.managedSave) {
    throw new VirError(
      'OPERATION_INVALID',
      'test',
      `refusing to undefine '${d.name}' while it has a managed save image`,
    );
  }
  const snapshots = d.snapshots?.size ?? 0;
  if (snapshots > 0 && d.id < 0 && !withSnapshots) {
    throw new VirError(
      'OPERATION_INVALID',
      'test',
      `cannot delete inactive domain with ${snapshots} snapshots`,
    );
  }
  // libvirt's test driver keeps the autostart flag of a domain that lives on as transient.
  if (d.id >= 0) {
    // A running domain carries on as a transient one and vanishes when it stops.
    d.persistent = false;
    host.emit(d, 'undefined', 'removed');
    return;
  }
  host.remove(d);
  host.emit(d, 'undefined', 'removed');
}

export function rename(host: TestHost, d: TestDomain, newName: string): DomainRef {
  if (d.id >= 0) throw new VirError('OPERATION_INVALID', 'test', 'cannot rename active domain');
  if (newName.includes('/')) {
    throw new VirError('XML_ERROR', 'test', `name ${newName} cannot contain '/'`);
  }
  if (host.byName.has(newName)) {
    throw new VirError('OPERATION_INVALID', 'test', `domain with name '${newName}' already exists`);
  }
  host.emit(d, 'undefined', 'renamed');
  host.rename(d, newName);
  d.config = edited(d.config, { name: newName });
  host.emit(d, 'defined', 'renamed');
  return ref(d);
}

export function info(d: TestDomain): DomainInfo {
  const live = d.live;
  const def = live ? live.def : d.config;
  return {
    state: d.state,
    maxMem: maxMemKiB(def),
    memory: memoryKiB(def),
    nrVirtCpu: vcpus(def),
    cpuTime: live ? process.hrtime.bigint() - live.bootedAt : 0n,
  };
}

/** The live or next-boot XML; the last document is kept while nothing it shows changes. */
export function xmlOf(d: TestDomain, opts: GetXmlOptions): string {
  refuseUpdateCpu(opts);
  const secure = opts.secure === true;
  const inactive = opts.inactive === true;
  const migratable = opts.migratable === true;
  const live = d.live && !inactive ? d.live : undefined;
  const def = live ? live.def : d.config;
  const id = live ? d.id : -1;
  const key = `${secure}|${id}|${inactive}|${migratable}`;
  const cached = d.xmlCache;
  if (cached && cached.def === def && cached.key === key) return cached.xml;
  const xml = formatDefinition(def, { id, inactive, secure, migratable });
  d.xmlCache = { def, key, xml };
  return xml;
}

/** What {@link xmlOf} shows, as a `DomainDef` the caller owns. */
export function definitionOf(d: TestDomain, opts: GetXmlOptions): DomainDef {
  refuseUpdateCpu(opts);
  const live = d.live && !opts.inactive ? d.live : undefined;
  const def = detachedCopy(live ? live.def : d.config);
  if (live) def.id = d.id;
  else delete def.id;
  // the same leave-outs as the XML read (FormatDomainOptions.hideSecrets and .migratable)
  if (opts.secure !== true) leaveOutSecretsOf(def);
  if (opts.migratable) leaveOutForMigrationOf(def);
  return def;
}

/** libvirt's test driver has no host CPU to update a guest's from: it refuses the flag. */
function refuseUpdateCpu(opts: GetXmlOptions): void {
  if (opts.updateCpu)
    throw new VirError('INVALID_ARG', 'test', 'unsupported flags (0x4) in function testDomainGetXMLDesc', {
      field: 'updateCpu',
    });
}

export function setMemory(d: TestDomain, kib: number, opts: ChangeFlags): void {
  const { live, config } = affect(d, opts);
  if (live && kib > maxMemKiB(live.def)) {
    throw new VirError('INVALID_ARG', 'test', 'cannot set memory higher than max memory');
  }
  if (config && kib > maxMemKiB(d.config)) {
    throw new VirError('INVALID_ARG', 'test', 'cannot set memory higher than max memory');
  }
  if (live) live.def = edited(live.def, { memoryKiB: kib });
  if (config) d.config = edited(d.config, { memoryKiB: kib });
}

export function setVcpus(d: TestDomain, count: number, opts: ChangeFlags): void {
  const { live, config } = affect(d, opts);
  if (count > TEST_MAX_VCPUS) {
    throw new VirError(
      'INVALID_ARG',
      'test',
      `requested cpu amount exceeds maximum supported amount (${count} > ${TEST_MAX_VCPUS})`,
    );
  }
  for (const def of [live?.def, config ? d.config : undefined]) {
    const max = def && maxVcpus(def);
    if (max !== undefined && count > max) {
      throw new VirError('INVALID_ARG', 'test', `requested cpu amount exceeds maximum (${count} > ${max})`);
    }
  }
  if (live) live.def = edited(live.def, { vcpus: count });
  if (config) d.config = edited(d.config, { vcpus: count });
}

/** Which definitions a memory/vCPU change touches; the default is the running guest. */
function affect(d: TestDomain, opts: ChangeFlags): { live: LiveState | undefined; config: boolean } {
  const config = opts.config === true;
  const wantLive = opts.live ?? !config;
  if (wantLive && !d.live) throw new VirError('OPERATION_INVALID', 'test', 'domain is not running');
  if (config && !d.persistent) {
    throw new VirError('OPERATION_INVALID', 'test', 'cannot change persistent config of a transient domain');
  }
  return { live: wantLive ? d.live : undefined, config };
}

/**
 * Save, restore, managed save and the maximum memory, as libvirt's test
 * driver has them (`testDomainSaveFlags`, `testDomainRestoreFlags`,
 * `testDomainManagedSave*`, `testDomainSetMemoryFlags` with
 * `VIR_DOMAIN_MEM_MAXIMUM`): a save file holds the guest's live XML behind
 * the same header libvirt's test driver writes (its magic, NUL-terminated,
 * then the XML's length as a 32-bit little-endian integer), so a file
 * either wrote, the other restores. Each runs inside the domain's job (or
 * the host's, for a restore) in one synchronous step.
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { DomainDef } from '../../conf/domain/domain-def.js';
import type { DomainRef } from '../../driver.js';
import { VirError } from '../../errors.js';
import { needActive } from './domain-filter.js';
import type { ChangeFlags } from './domain-ops.js';
import { edited, formatDefinition, memoryKiB } from './test-definition.js';
import { ref, type TestDomain, type TestHost } from './test-host.js';

/** libvirt's test driver's save magic, with the NUL its `sizeof` counts. */
const MAGIC = Buffer.from('TestGuestMagic\0', 'latin1');

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const known: Record<string, string> = {
    ENOENT: 'No such file or directory',
    EACCES: 'Permission denied',
    EISDIR: 'Is a directory',
    ENOTDIR: 'Not a directory',
  };
  return (e.code && known[e.code]) ?? e.message;
}

/** `virDomainSave`: the live XML to `path`, then the guest stops `shutoff/saved` (a transient one is gone). */
export function saveDomain(host: TestHost, d: TestDomain, path: string): void {
  needActive(d);
  const live = d.live?.def ?? d.config;
  const xml = Buffer.from(formatDefinition(live, { id: d.id, inactive: false, secure: true }), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(xml.length);
  try {
    writeFileSync(path, Buffer.concat([MAGIC, len, xml]), { mode: 0o600 });
  } catch (err) {
    throw new VirError('SYSTEM_ERROR', 'test', `saving domain '${d.name}' to '${path}': ${errnoText(err)}`, {
      field: 'path',
    });
  }
  host.stop(d, 'saved', 'saved');
}

/** The definition a save file holds; SYSTEM_ERROR when unreadable, INTERNAL_ERROR when not one. */
export function readSaveFile(path: string, parse: (xml: string) => DomainDef): DomainDef {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new VirError('SYSTEM_ERROR', 'test', `cannot read domain image '${path}': ${errnoText(err)}`, {
      field: 'path',
    });
  }
  if (data.length < MAGIC.length || !data.subarray(0, MAGIC.length).equals(MAGIC))
    throw new VirError('INTERNAL_ERROR', 'test', 'mismatched header magic', { field: 'path' });
  if (data.length < MAGIC.length + 4)
    throw new VirError('SYSTEM_ERROR', 'test', `failed to read metadata length in '${path}'`, {
      field: 'path',
    });
  const len = data.readUInt32LE(MAGIC.length);
  const body = data.subarray(MAGIC.length + 4);
  if (len < 1 || len > body.length)
    throw new VirError('SYSTEM_ERROR', 'test', `incomplete metadata in '${path}'`, { field: 'path' });
  return parse(body.subarray(0, len).toString('utf8'));
}

/**
 * `virDomainRestore`: the saved definition runs again `running/restored` (event
 * `started/restored`), as a transient domain unless one of its name and UUID is defined;
 * a running one of that name is OPERATION_INVALID.
 */
export function restoreDomain(host: TestHost, def: DomainDef): DomainRef {
  const existing = host.claim(def);
  if (existing && existing.id >= 0)
    throw new VirError('OPERATION_INVALID', 'test', `domain '${existing.name}' is already active`);
  const d = existing ?? host.insert(def, false);
  host.start(d, def);
  host.setState(d, 'running', 'restored');
  host.emit(d, 'started', 'restored');
  return ref(d);
}

/**
 * `virDomainSetMaxMemory` (`virDomainSetMemoryFlags` with `VIR_DOMAIN_MEM_MAXIMUM`): the
 * definition's `<memory>`, the current memory lowered to it; a running guest's maximum cannot
 * change (OPERATION_INVALID). Without flags: the running guest when active, else the definition.
 */
export function setMaxMemory(d: TestDomain, kib: number, opts: ChangeFlags): void {
  const given = opts.live === true || opts.config === true;
  const live = opts.live === true || (!given && d.id >= 0);
  const config = opts.config === true || (!given && d.id < 0);
  if (live) {
    if (d.id < 0) throw new VirError('OPERATION_INVALID', 'test', 'domain is not running');
    throw new VirError('OPERATION_INVALID', 'test', 'cannot resize the maximum memory on an active domain');
  }
  if (config && !d.persistent)
    throw new VirError('OPERATION_INVALID', 'test', 'cannot change persistent config of a transient domain');
  d.config = edited(d.config, {
    maxMemoryKiB: kib,
    ...(memoryKiB(d.config) > kib ? { memoryKiB: kib } : {}),
  });
}

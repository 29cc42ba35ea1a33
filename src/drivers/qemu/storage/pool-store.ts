/**
 * Storage pools (and, with another {@link StoreKind}, virtual networks) on
 * disk, laid out as libvirt keeps them: persistent
 * definitions in `<configRoot>/storage/<name>.xml`, autostart marks as
 * symbolic links in `<configRoot>/storage/autostart/`, and the pools that
 * run in `<runRoot>/storage/<name>.xml` (the live definition; the run root
 * is emptied at boot, so after a reboot every pool is inactive until
 * started, as libvirt's are). Every file is written whole (atomic rename).
 *
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { toVirError } from '../../../errors.js';
import { cleanStaleTemps, writeFileAtomic } from '../lifecycle/atomic-file.js';

function names(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.xml') && !f.startsWith('.vk-'))
      .map((f) => f.slice(0, -4))
      .sort();
  } catch {
    return [];
  }
}

/** Which kind of object a store holds: its folder under each root and the word errors use. */
export interface StoreKind {
  /** The folder under the config and run roots (`storage`, `networks`). */
  readonly dir: string;
  /** The object's name in messages (`pool`, `network`). */
  readonly what: string;
  /** The error domain. */
  readonly domain: 'storage' | 'network';
}

const POOLS: StoreKind = { dir: 'storage', what: 'pool', domain: 'storage' };

export class PoolStore {
  readonly configDir: string;
  readonly autostartDir: string;
  readonly stateDir: string;
  readonly #kind: StoreKind;

  /** The store of `kind` (default: storage pools) on these roots. */
  constructor(configRoot: string, runRoot: string, kind: StoreKind = POOLS) {
    this.#kind = kind;
    this.configDir = join(configRoot, kind.dir);
    this.autostartDir = join(this.configDir, 'autostart');
    this.stateDir = join(runRoot, kind.dir);
    for (const d of [this.configDir, this.stateDir]) cleanStaleTemps(d);
  }

  /** Names with a persistent definition, sorted. */
  configs(): string[] {
    return names(this.configDir);
  }

  /** Names of the pools that run, sorted. */
  running(): string[] {
    return names(this.stateDir);
  }

  /**
   * The definitions on disk, parsed with `parse`: the persistent ones whose
   * file parses and names its own file (a broken one is skipped, as libvirt
   * skips it at daemon start), and the live ones of those that run (a
   * broken state file is removed: that object no longer runs).
   */
  loadDefinitions<D extends { name?: string | undefined }>(
    parse: (xml: string) => D,
  ): { persistent: Map<string, D>; live: Map<string, D> } {
    const persistent = new Map<string, D>();
    for (const name of this.configs()) {
      try {
        const def = parse(this.readConfig(name));
        if (def.name === name) persistent.set(name, def);
      } catch {
        // skipped
      }
    }
    const live = new Map<string, D>();
    for (const name of this.running()) {
      try {
        live.set(name, parse(this.readState(name)));
      } catch {
        this.removeState(name);
      }
    }
    return { persistent, live };
  }

  readConfig(name: string): string {
    return read(join(this.configDir, `${name}.xml`), name, this.#kind);
  }

  readState(name: string): string {
    return read(join(this.stateDir, `${name}.xml`), name, this.#kind);
  }

  writeConfig(name: string, xml: string): void {
    write(this.configDir, name, xml, this.#kind);
  }

  /** The live definition: atomic, not fsynced (the run root does not outlive the host's boot). */
  writeState(name: string, xml: string): void {
    write(this.stateDir, name, xml, this.#kind, false);
  }

  removeState(name: string): void {
    remove(join(this.stateDir, `${name}.xml`), this.#kind);
  }

  /** Removes the definition and its autostart mark. */
  removeConfig(name: string): void {
    remove(join(this.autostartDir, `${name}.xml`), this.#kind);
    remove(join(this.configDir, `${name}.xml`), this.#kind);
  }

  isAutostart(name: string): boolean {
    try {
      readlinkSync(join(this.autostartDir, `${name}.xml`));
      return true;
    } catch {
      return false;
    }
  }

  setAutostart(name: string, on: boolean): void {
    const link = join(this.autostartDir, `${name}.xml`);
    try {
      if (!on) rmSync(link, { force: true });
      else if (!this.isAutostart(name)) {
        mkdirSync(this.autostartDir, { recursive: true, mode: 0o700 });
        symlinkSync(join(this.configDir, `${name}.xml`), link);
      }
    } catch (err) {
      throw toVirError(
        err,
        'SYSTEM_ERROR',
        this.#kind.domain,
        `cannot ${on ? 'set' : 'clear'} autostart of '${name}'`,
      );
    }
  }
}

function read(path: string, name: string, k: StoreKind): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw toVirError(err, 'READ_FAILED', k.domain, `cannot read the definition of ${k.what} '${name}'`);
  }
}

function write(dir: string, name: string, xml: string, k: StoreKind, durable = true): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw toVirError(err, 'WRITE_FAILED', k.domain, `cannot create ${dir}`);
  }
  writeFileAtomic(join(dir, `${name}.xml`), xml, { durable });
}

function remove(path: string, k: StoreKind): void {
  try {
    rmSync(path, { force: true });
  } catch (err) {
    throw toVirError(err, 'SYSTEM_ERROR', k.domain, `cannot remove ${path}`);
  }
}

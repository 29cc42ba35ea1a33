/**
 * Persistent domain definitions on disk: `<configRoot>/qemu/<name>.xml`,
 * and the autostart marks `<configRoot>/qemu/autostart/<name>.xml`
 * (symbolic links to the definition, as libvirt keeps them).
 *
 * Every definition is written to a temporary file, synced and renamed
 * over the old one, so a process killed mid-define leaves the old or the
 * new definition, never a mix.
 *
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { toVirError } from '../../../errors.js';
import { writeFileAtomic } from '../lifecycle/atomic-file.js';

export class ConfigStore {
  readonly dir: string;
  readonly autostartDir: string;

  constructor(configRoot: string) {
    this.dir = join(configRoot, 'qemu');
    this.autostartDir = join(this.dir, 'autostart');
  }

  configPath(name: string): string {
    return join(this.dir, `${name}.xml`);
  }

  /**
   * Names with a definition file, sorted. Leftovers of interrupted writes
   * end in `.tmp` and are skipped; a name starting with a dot is a name.
   */
  list(): string[] {
    try {
      return readdirSync(this.dir)
        .filter((f) => f.endsWith('.xml'))
        .map((f) => f.slice(0, -4))
        .sort();
    } catch {
      return [];
    }
  }

  read(name: string): string {
    try {
      return readFileSync(this.configPath(name), 'utf8');
    } catch (err) {
      throw toVirError(err, 'READ_FAILED', 'qemu', `cannot read the definition of '${name}'`);
    }
  }

  write(name: string, xml: string): void {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw toVirError(err, 'WRITE_FAILED', 'qemu', `cannot create ${this.dir}`);
    }
    writeFileAtomic(this.configPath(name), xml);
  }

  /** Removes the definition and its autostart mark. */
  remove(name: string): void {
    try {
      rmSync(join(this.autostartDir, `${name}.xml`), { force: true });
      rmSync(this.configPath(name), { force: true });
    } catch (err) {
      throw toVirError(err, 'SYSTEM_ERROR', 'qemu', `cannot remove the definition of '${name}'`);
    }
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
      if (!on) {
        rmSync(link, { force: true });
        return;
      }
      if (this.isAutostart(name)) return;
      mkdirSync(this.autostartDir, { recursive: true, mode: 0o700 });
      symlinkSync(this.configPath(name), link);
    } catch (err) {
      throw toVirError(err, 'SYSTEM_ERROR', 'qemu', `cannot ${on ? 'set' : 'clear'} autostart of '${name}'`);
    }
  }
}

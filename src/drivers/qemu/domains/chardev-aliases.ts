/**
 * The names libvirt gives a running guest's character devices, and what
 * QEMU tells us about them once it runs.
 *
 * Aliases follow libvirt's rule (and `buildCommandLine`'s ids, `char` +
 * alias): `serialN`, `parallelN`, `channelN`, `consoleN` by position, except
 * a first console of target type `serial` on an HVM guest, which is the
 * first serial port and carries its alias. The live XML shows them in an
 * `<alias>` element; consoles are opened by them.
 *
 * pty backends get their `/dev/pts/N` from QEMU (`query-chardev`) while the
 * guest is still paused; libvirt writes it as the source path, and on a
 * `<console>` as `tty=` too.
 *
 * @module
 */
import type { ChardevDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import type { XmlElement } from '../../../xml/index.js';
import { rawAttr } from '../command-line/device-props.js';
import { addAliases } from './live-aliases.js';

/** The alias of console `i` of a guest with `serialCount` serial ports. */
export function consoleAlias(c: ChardevDef, i: number, serialCount: number): string {
  if (i === 0 && (c.target?.type ?? 'serial') === 'serial' && serialCount > 0) return 'serial0';
  return `console${i}`;
}

const KINDS = [
  ['serial', 'serials'],
  ['parallel', 'parallels'],
  ['channel', 'channels'],
  ['console', 'consoles'],
] as const;

/** Every character device of `def` with its alias, in definition order per kind. */
export function chardevAliases(
  def: DomainDef,
): Array<{ element: string; chardev: ChardevDef; alias: string }> {
  const dev = def.devices ?? {};
  const serialCount = dev.serials?.length ?? 0;
  const out: Array<{ element: string; chardev: ChardevDef; alias: string }> = [];
  for (const [element, key] of KINDS) {
    for (const [i, c] of (dev[key] ?? []).entries()) {
      // a device plugged in live keeps the alias it was given (its place no longer says it)
      const given = rawAttr(c, 'alias', 'name');
      const alias = given ?? (element === 'console' ? consoleAlias(c, i, serialCount) : `${element}${i}`);
      out.push({ element, chardev: c, alias });
    }
  }
  return out;
}

/** One entry of QMP `query-chardev`. */
export interface QmpChardevInfo {
  readonly label: string;
  readonly filename: string;
  /** Whether the guest has the device's end open (virtio-serial ports). */
  readonly 'frontend-open'?: boolean;
}

/**
 * Writes the pty paths QEMU chose into the live definition. A serial-type
 * first console shares the first serial port's pty.
 */
export function applyPtyPaths(def: DomainDef, chardevs: readonly QmpChardevInfo[]): void {
  const byLabel = new Map(chardevs.map((c) => [c.label, c.filename]));
  for (const { element, chardev, alias } of chardevAliases(def)) {
    if (chardev.type !== 'pty') continue;
    const filename = byLabel.get(`char${alias}`);
    if (!filename?.startsWith('pty:')) continue;
    const path = filename.slice(4);
    const [first, ...rest] = chardev.sources ?? [];
    chardev.sources = [{ ...(first ?? {}), path }, ...rest];
    if (element === 'console') chardev.tty = path;
  }
}

/**
 * Adds the `<alias>` of each character device to a formatted live
 * definition, where libvirt puts it: after the device's own children,
 * before its `<address>`.
 */
export function addChardevAliases(root: XmlElement, def: DomainDef): void {
  const byElement = new Map<string, string[]>(KINDS.map(([k]) => [k, []]));
  for (const a of chardevAliases(def)) byElement.get(a.element)?.push(a.alias);
  addAliases(root, byElement);
}

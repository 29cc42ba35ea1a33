/**
 * The image files of the statistics differentials against libvirt's QEMU
 * driver (qemu-backing-stats, qemu-detected-chain, qemu-hotplug-chain,
 * qemu-libvirt-stats, qemu-volume-chain), made by qemu-img: a 4 MiB raw
 * `raw.img` and the qcow2 layers a test asks for, in a directory both sides'
 * QEMUs can use (libvirt's runs as the daemon's user). One copy, so that the
 * two sides of every differential start from the same files.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** A qcow2 layer: its file, and the layer it is over (none for a base). */
export type Layer = readonly [file: string, backing?: string];

/** `raw.img` and `layers` (in order, so a backing file exists before its overlay) in `dir`; a base has `baseMiB`. */
export function statsImages(dir: string, baseMiB: number, layers: readonly Layer[]): void {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o777);
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', join(dir, 'raw.img'), '4M']);
  for (const [file, backing] of layers)
    execFileSync('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      ...(backing
        ? ['-b', join(dir, backing), '-F', 'qcow2', join(dir, file)]
        : [join(dir, file), `${baseMiB}M`]),
    ]);
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o666);
}

/** Small sysfs trees written file by file for the host capabilities tests. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** Relative path -> content; undefined leaves the file out (to drop one from a base tree). */
export type Files = Record<string, string | undefined>;

const work = mkdtempSync(join(tmpdir(), 'virtkit-sysfs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Writes a tree into a fresh directory and returns its path. */
export function tree(files: Files): string {
  const dir = mkdtempSync(join(work, 't-'));
  for (const [path, text] of Object.entries(files)) {
    if (text === undefined) continue;
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

export const X86 = { arch: 'x86_64', offlineMigrate: false, liveMigrate: false } as const;

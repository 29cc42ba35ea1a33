/**
 * Where libvirt's conformance data lives when the workspace has it. Tests
 * that read it use `describe.skipIf(!HAS_SHARED)` so `npm test` passes
 * without it, and say so in the test name.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED_DIR = process.env.VIRTKIT_CONFORMANCE_DIR ?? join(REPO_ROOT, '../shared/conformance');
export const HAS_SHARED = existsSync(join(SHARED_DIR, 'README.md'));
export const SHARED_NOTE = HAS_SHARED ? '' : ' (skipped: ../shared/conformance not present)';

export function fixture(...parts: string[]): string {
  return join(REPO_ROOT, 'fixtures', ...parts);
}

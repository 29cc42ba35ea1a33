/**
 * The package as a user gets it: `npm pack` of a fresh `dist/`, for the
 * packaging and browser tests. The build runs only when `dist/` is missing
 * or older than a file under `src/` (CI builds before `npm test`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../shared-data.js';

export const HAS_NPM = (() => {
  try {
    execFileSync('npm', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function fresh(): boolean {
  const marker = join(REPO_ROOT, 'dist', 'index.js');
  return existsSync(marker) && statSync(marker).mtimeMs >= newest(join(REPO_ROOT, 'src'));
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Builds `dist/` if it is missing or stale. Test files run in parallel
 * workers: one builds (it holds a lock folder), the others wait for it.
 */
export function ensureBuilt(): void {
  if (fresh()) return;
  const lock = join(tmpdir(), `virtkit-build-${REPO_ROOT.replace(/\W/g, '_')}.lock`);
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) rmSync(lock, { recursive: true, force: true }); // a builder that died
      sleep(250);
    }
  }
  try {
    if (fresh()) return; // built while we waited
    execFileSync(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: REPO_ROOT, stdio: 'inherit' },
    );
    // the `virtkit` program package.json's `bin` names, bundled from the build (as `npm run build` does)
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/bundle-cli.mjs')], {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Packs the package into a new temporary folder; returns the tarball's path. */
export function packTarball(): string {
  ensureBuilt();
  const dest = mkdtempSync(join(tmpdir(), 'virtkit-pack-'));
  // the build above is the one `prepack` would run
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  const [info] = JSON.parse(out) as Array<{ filename: string }>;
  if (!info) throw new Error(`npm pack said nothing: ${out}`);
  return join(dest, info.filename);
}

/** Installs `tarball` into `dir` from npm's cache, or from the registry when the cache lacks a dependency. */
export function installTarball(dir: string, tarball: string): void {
  const args = ['install', '--no-audit', '--no-fund', '--no-package-lock', tarball];
  try {
    execFileSync('npm', [...args, '--offline'], { cwd: dir, stdio: 'pipe' });
  } catch {
    execFileSync('npm', args, { cwd: dir, stdio: 'pipe' });
  }
}

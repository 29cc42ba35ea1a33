/**
 * `virtkit -c test:///default list` start-up, from the built `dist/`, beside
 * `virsh -c test:///default list`: whole processes, spawned one after the
 * other, median wall time of a few runs. Needs `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, row } from './harness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 15;

/** Median µs of a whole process run, or undefined when it cannot run. */
function processUs(cmd: string, args: string[]): number | undefined {
  const samples: number[] = [];
  for (let i = 0; i < RUNS + 2; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, {
      stdio: ['ignore', 'ignore', 'ignore'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    if (r.status !== 0) return undefined;
    if (i >= 2) samples.push(us); // the first two warm the page cache
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

export async function run(): Promise<BenchRow[]> {
  const main = join(root, 'dist/cli/bin/main.js'); // the bundled program package.json's `bin` names
  if (!existsSync(main)) throw new Error('dist/cli/bin/main.js is missing: run `npm run build` first');
  const rows: BenchRow[] = [];
  const list = processUs(process.execPath, [main, '-c', 'test:///default', 'list']);
  const virsh = processUs('virsh', ['-c', 'test:///default', 'list']);
  if (list === undefined) throw new Error('virtkit list failed');
  rows.push(row('CLI start-up: list on test:///default (process)', list, { name: 'virsh', us: virsh }));
  const version = processUs(process.execPath, [main, '--version']);
  const virshVersion = processUs('virsh', ['--version']);
  if (version !== undefined) {
    rows.push(
      row('CLI start-up: --version, no driver loaded (process)', version, {
        name: 'virsh',
        us: virshVersion,
      }),
    );
  }
  const node = processUs(process.execPath, ['-e', '0']);
  if (node !== undefined) rows.push({ ...row('node -e 0 (the floor)', node), note: 'Node start-up alone' });
  return rows;
}

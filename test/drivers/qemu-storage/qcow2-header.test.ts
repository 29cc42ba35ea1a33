/**
 * The qcow2 header reader against qemu-img's own reading of the same
 * files (made by qemu-img create): version, size, cluster size, backing
 * file and format, lazy refcounts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readQcow2Header } from '../../../src/drivers/qemu/storage/qcow2-header.js';

const IMG = '/usr/bin/qemu-img';
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vk-qcow2-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!existsSync(IMG))('qcow2 headers as qemu-img reads them (skipped without qemu-img)', () => {
  const cases: Array<[string, string[]]> = [
    ['v2.qcow2', ['-o', 'compat=0.10']],
    ['v3.qcow2', ['-o', 'compat=1.1']],
    ['lazy.qcow2', ['-o', 'compat=1.1,lazy_refcounts=on,cluster_size=4096']],
    ['backed.qcow2', ['-b', 'ABSOLUTE_BASE', '-F', 'raw']],
    ['relative.qcow2', ['-b', 'base.raw', '-F', 'raw']],
  ];
  it.each(cases)('%s', (name, opts) => {
    if (!existsSync(join(dir, 'base.raw')))
      execFileSync(IMG, ['create', '-f', 'raw', join(dir, 'base.raw'), '3M']);
    const path = join(dir, name);
    const args = opts.map((o) => (o === 'ABSOLUTE_BASE' ? join(dir, 'base.raw') : o));
    execFileSync(IMG, ['create', '-q', '-f', 'qcow2', ...args, path, '5M'], { cwd: dir });
    const q = JSON.parse(execFileSync(IMG, ['info', '--output=json', path], { encoding: 'utf8' }));
    const ours = readQcow2Header(readFileSync(path).subarray(0, 65536), BigInt(statSync(path).blocks) * 512n);
    expect(ours).toBeDefined();
    expect(ours!.virtualSize).toBe(BigInt(q['virtual-size']));
    expect(ours!.clusterSize).toBe(BigInt(q['cluster-size']));
    expect(ours!.compat).toBe(q['format-specific'].data.compat);
    expect(ours!.lazyRefcounts).toBe(q['format-specific'].data['lazy-refcounts'] ?? false);
    expect(ours!.backing?.path).toBe(q['backing-filename']);
    expect(ours!.backing?.format).toBe(q['backing-filename-format']);
  });
});

import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startMonitorProcess } from '../../../src/drivers/qemu/probe/qemu-monitor-process.js';
import { machineFacts } from '../../../src/machine/index.js';
import { childPids, HAS_QEMU, QEMU_BINARY, QEMU_NOTE, tempDir } from './helpers.js';

const childrenBefore = new Set(childPids());
afterAll(() => {
  // every QEMU (and fake QEMU) a test started has been reaped
  expect(childPids().filter((p) => !childrenBefore.has(p))).toEqual([]);
});

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.remove());

async function qtree(machine: string): Promise<string> {
  const proc = await startMonitorProcess({
    binary: QEMU_BINARY,
    args: ['-S', '-nodefaults', '-nographic', '-no-user-config', '-machine', `${machine},accel=tcg`],
    dir: dir.path,
  });
  try {
    return await proc.qmp.execute<string>('human-monitor-command', { 'command-line': 'info qtree' });
  } finally {
    await proc.kill();
  }
}

describe.skipIf(!HAS_QEMU)(`machine facts checked against real QEMU's device tree${QEMU_NOTE}`, () => {
  it.each(['pc-q35-2.12', 'q35', 'pc-i440fx-4.0', 'pc'])('%s', async (machine) => {
    const tree = await qtree(machine);
    const facts = machineFacts(machine);
    expect(/bus: pcie\.0/.test(tree)).toBe(facts.pciRoot === 'pcie-root');
    expect(/bus: pci\.0/.test(tree)).toBe(facts.pciRoot === 'pci-root');
    expect(/dev: ich9-ahci/.test(tree)).toBe(facts.integratedDiskController === 'ahci');
    expect(/dev: piix[34]-ide/.test(tree)).toBe(facts.integratedDiskController === 'ide');
    expect(/dev: isa-fdc/.test(tree)).toBe(facts.integratedFloppyController);
  });
});

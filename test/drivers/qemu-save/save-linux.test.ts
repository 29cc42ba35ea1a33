/**
 * The issue's target for managed save: the booting Linux test guest
 * (tiny-linux.ts) under TCG counts the lines typed on its console in its
 * shell's memory; after a managed save and a start (a restore), the count
 * goes on where it was, which only the saved memory can know (a fresh boot
 * would start again at 1, after its boot report).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTinyLinux, REPORT_END } from '../../../scripts/tiny-linux.js';
import { QEMU_BINARY, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import {
  bootToReport,
  GuestConsole,
  kernel,
  leftoversAfterAll,
  realGuestSkip,
  runs,
  tinyLinuxOs,
} from '../real-guest.js';

const SKIP = realGuestSkip([!runs('qemu-img'), 'no qemu-img']);
const BOOT_MS = 120_000;

const leftovers = leftoversAfterAll();

describe.skipIf(SKIP !== '')(
  `a booted Linux guest survives a managed save${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    it(
      'counts on its console, is saved, starts again and counts on',
      async () => {
        const roots = leftovers.roots('vk-save-linux-');
        const tiny = buildTinyLinux(kernel(), { cacheDir: join(roots.path, 'cache'), echo: true });
        const disk = join(roots.path, 'disk.qcow2');
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
        const a = await leftovers.connect(join(roots.path, 'a'));
        const dom = await a.defineDomain(`<domain type='qemu'>
  <name>vk-save-linux</name>
  <uuid>b0070000-0000-4000-8000-00000000a5a5</uuid>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  ${tinyLinuxOs(tiny)}
  <features><acpi/></features>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>`);
        const before = await bootToReport(dom, BOOT_MS, leftovers);
        before.type('one');
        await before.until('VK count 1', 20_000);
        before.type('two');
        await before.until('VK count 2', 20_000);

        const t0 = performance.now();
        await dom.managedSave();
        const saveMs = performance.now() - t0;
        expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'saved' });
        expect(await dom.hasManagedSave()).toBe(true);
        expect(qemuProcessesMentioning(roots.path)).toEqual([]);

        const t1 = performance.now();
        await dom.start();
        const restoreMs = performance.now() - t1;
        expect(await dom.getState()).toEqual({ state: 'running', reason: 'restored' });
        expect(await dom.hasManagedSave()).toBe(false);
        const after = leftovers.console(await GuestConsole.open(dom));
        after.type('three');
        await after.until('VK count 3', 30_000);
        // No second boot: the guest's boot report did not come again.
        expect(after.text).not.toContain(REPORT_END);
        console.log(
          `managed save of a booted 256 MiB Linux guest under TCG: save ${saveMs.toFixed(0)} ms, restore ${restoreMs.toFixed(0)} ms`,
        );
      },
      BOOT_MS + 90_000,
    );
  },
);

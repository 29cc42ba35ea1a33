/**
 * The issue's target: the booting Linux test guest (tiny-linux.ts, without
 * the TPM and virtiofs share, which do not migrate) live-migrated between
 * two qemu:///session state roots under TCG, its disk on shared storage
 * (the same image path from both roots), and its serial console answering
 * on the destination: a line typed there comes back from the guest's shell.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTinyLinux } from '../../../scripts/tiny-linux.js';
import type { DomainJobInfo } from '../../../src/driver.js';
import { QEMU_BINARY, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import {
  bootToReport,
  GuestConsole,
  kernel,
  leftoversAfterAll,
  realGuestSkip,
  runs,
  sse42CpuXml,
  tinyLinuxOs,
} from '../real-guest.js';

const SKIP = realGuestSkip([!runs('qemu-img'), 'no qemu-img']);
const BOOT_MS = 120_000;

const leftovers = leftoversAfterAll();

describe.skipIf(SKIP !== '')(
  `a booted Linux guest migrates with its console${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    it(
      'boots at the source, moves live, answers on the destination console',
      async () => {
        const roots = leftovers.roots('vk-mig-linux-');
        const tiny = buildTinyLinux(kernel(), { cacheDir: join(roots.path, 'cache'), echo: true });
        const disk = join(roots.path, 'disk.qcow2');
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
        const a = await leftovers.connect(join(roots.path, 'a'));
        const b = await leftovers.connect(join(roots.path, 'b'));
        const dom = await a.defineDomain(`<domain type='qemu'>
  <name>vk-mig-linux</name>
  <uuid>b0070000-0000-4000-8000-00000000a1a1</uuid>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  ${tinyLinuxOs(tiny)}
  <features><acpi/></features>
  ${sse42CpuXml('partial')}
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'><mac address='52:54:00:b0:07:a1'/><model type='virtio'/></interface>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>`);
        const before = await bootToReport(dom, BOOT_MS, leftovers);
        before.type('before');
        await before.until('VK got before', 20_000);

        const progress: DomainJobInfo[] = [];
        const t0 = performance.now();
        const moved = await dom.migrate(b, {
          live: true,
          persistDest: true,
          onProgress: (i) => progress.push(i),
        });
        const ms = performance.now() - t0;
        expect(await moved.getState()).toEqual({ state: 'running', reason: 'migrated' });
        expect((await dom.getState()).state).toBe('shutoff');
        expect(progress.at(-1)?.type).toBe('completed');
        // The source's console ended with its QEMU.
        expect(qemuProcessesMentioning(join(roots.path, 'a'))).toEqual([]);

        const after = leftovers.console(await GuestConsole.open(moved));
        after.type('after-migration');
        await after.until('VK got after-migration', 30_000);
        expect(after.text).toContain('VK got after-migration');
        console.log(`migration of a booted 256 MiB Linux guest under TCG: ${ms.toFixed(0)} ms`);
      },
      BOOT_MS + 90_000,
    );
  },
);

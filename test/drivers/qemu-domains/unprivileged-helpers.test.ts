/**
 * What qemu:///session does for a user without root, with real processes:
 * the driver runs in a child Node process as `nobody` (as-nobody.ts), so
 * the helpers and QEMU really are unprivileged. A virtiofs share's daemon
 * runs in a user namespace (the C daemon of QEMU 7.2 cannot run
 * unprivileged otherwise); a bridge interface is refused with the reason
 * qemu-bridge-helper's state gives (bridge-helper.ts). Needs root to become `nobody`; skipped visibly
 * otherwise.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTinyLinux, findKernel, hasBusybox, REPORT_END } from '../../../scripts/tiny-linux.js';
import { findBridgeHelper, isSetuidRoot } from '../../../src/drivers/qemu/lifecycle/bridge-helper.js';
import { findVirtiofsd, virtiofsdFeatures } from '../../../src/drivers/qemu/lifecycle/virtiofsd.js';
import { C_VIRTIOFSD_PID_DIR } from '../../../src/drivers/qemu/lifecycle/virtiofsd-session.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu-lifecycle/helpers.js';
import {
  AS_NOBODY_NOTE,
  chownNobody,
  NOBODY,
  nobodyDir,
  processesMentioning,
  startAsNobody,
} from './as-nobody.js';

const VIRTIOFSD = findVirtiofsd(['/usr/share/qemu/vhost-user', '/etc/qemu/vhost-user']);
const FEATURES = VIRTIOFSD ? await virtiofsdFeatures(VIRTIOFSD) : undefined;
const FS_NOTE = VIRTIOFSD ? '' : " (skipped: no vhost-user descriptor of type 'fs')";

let root: string;
beforeEach(() => {
  root = nobodyDir('vk-unpriv-');
});
afterEach(() => {
  for (const pid of processesMentioning(root)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

const guest = (name: string, devices: string, extra = '') => `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>${extra}
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>${devices}</devices>
</domain>`;

describe.skipIf(!HAS_QEMU || AS_NOBODY_NOTE !== '' || FS_NOTE !== '')(
  `a virtiofs share started by an unprivileged user${QEMU_NOTE}${AS_NOBODY_NOTE}${FS_NOTE}`,
  () => {
    const C_DAEMON_BLOCKED =
      FEATURES?.separateOptions === false && !existsSync(C_VIRTIOFSD_PID_DIR)
        ? `${C_VIRTIOFSD_PID_DIR} does not exist`
        : undefined;
    const share = () => {
      const dir = join(root, 'share');
      mkdirSync(dir);
      writeFileSync(join(dir, 'hello.txt'), 'hi\n');
      chownNobody(dir);
      return guest(
        'vfsu',
        `<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='${dir}'/><target dir='tag0'/></filesystem>`,
        "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>",
      );
    };
    it(`QEMU realizes vhost-user-fs against a daemon running as the user${C_DAEMON_BLOCKED ? ' (refused here: the C daemon has no pid-file directory to bind over)' : ''}`, async () => {
      // no supplementary groups: the C daemon drops them, which it cannot in a user namespace
      const [r] = await startAsNobody(root, [share()], { groups: [] });
      if (!r) throw new Error('no report from the child');
      expect(r.uid).toBe(NOBODY?.uid);
      if (C_DAEMON_BLOCKED) {
        expect(r.error).toMatchObject({
          code: 'CONFIG_UNSUPPORTED',
          field: '/domain/devices/filesystem[1]/driver/@type',
        });
        return;
      }
      // a paused start means QEMU finished the vhost-user handshake while realizing vhost-user-fs-pci
      expect(r.error).toBeUndefined();
      expect(r.state).toEqual({ state: 'paused', reason: 'user' });
      expect(r.after).toEqual({ state: 'shutoff', reason: 'destroyed' });
      const daemon = r.processes?.find((p) => p[0] === VIRTIOFSD);
      expect(daemon).toBeDefined();
      if (FEATURES?.separateOptions) expect(daemon).toContain(`--uid-map=:0:${NOBODY?.uid}:1:`);
      else expect(daemon).toContain(`source=${join(root, 'share')}`);
      // nothing of the guest is left: helpers stopped with QEMU, runtime files gone
      expect(processesMentioning(root)).toEqual([]);
      expect(readdirSync(join(root, 'state', 'qemu')).filter((f) => f.startsWith('helpers-'))).toEqual([]);
    });

    const KERNEL = findKernel();
    const BOOT_NOTE = !KERNEL
      ? ' (skipped: no readable host kernel with modules)'
      : !hasBusybox()
        ? ' (skipped: no /bin/busybox)'
        : C_DAEMON_BLOCKED
          ? ` (skipped: ${C_DAEMON_BLOCKED})`
          : '';
    it.skipIf(BOOT_NOTE !== '')(
      `a Linux guest booted by the user mounts the share and reads the file${BOOT_NOTE}`,
      async (ctx) => {
        if (!KERNEL) return;
        const tiny = buildTinyLinux(KERNEL, { share: 'vkushare', cacheDir: join(root, 'tiny') });
        const lacking = tiny.plan.missing.filter((m) => m === 'virtiofs' || m === 'fuse');
        if (lacking.length > 0) ctx.skip(`the host kernel has no ${lacking.join(' or ')} module`);
        for (const f of [join(root, 'tiny'), tiny.initrd]) chownNobody(f);
        const dir = join(root, 'share');
        mkdirSync(dir);
        writeFileSync(join(dir, 'hello.txt'), 'served to an unprivileged guest\n');
        chownNobody(dir);
        chownNobody(join(dir, 'hello.txt'));
        const xml = `<domain type='qemu'>
  <name>vfsboot</name>
  <memory unit='MiB'>256</memory>
  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${tiny.kernel.image}</kernel><initrd>${tiny.initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 rdinit=/init</cmdline></os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model>
    <feature policy='require' name='ssse3'/><feature policy='require' name='sse4.1'/><feature policy='require' name='sse4.2'/></cpu>
  <devices><emulator>${QEMU_BINARY}</emulator>
    <filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='${dir}'/><target dir='vkushare'/></filesystem>
    <serial type='pty'/><console type='pty'/><memballoon model='none'/></devices>
</domain>`;
        const [r] = await startAsNobody(root, [xml], {
          groups: [],
          boot: { until: REPORT_END, ms: 150_000 },
          timeoutMs: 200_000,
        });
        expect(r?.error).toBeUndefined();
        expect(r?.transcript).toContain(REPORT_END);
        expect(r?.transcript).toMatch(/VK share served to an unprivileged guest/);
        expect(processesMentioning(root)).toEqual([]);
      },
      240_000,
    );

    it.skipIf(FEATURES?.separateOptions !== false)(
      'the C daemon for a user with supplementary groups is refused naming the share, nothing started',
      async () => {
        const [r] = await startAsNobody(root, [share()], { groups: [NOBODY?.gid ?? 65534, 100] });
        expect(r?.error).toMatchObject({
          code: 'CONFIG_UNSUPPORTED',
          field: '/domain/devices/filesystem[1]/driver/@type',
        });
        expect(r?.error?.message).toMatch(/supplementary groups/);
        expect(processesMentioning(root)).toEqual([]);
      },
    );
  },
);

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
const BRIDGE_NOTE = !IP ? ' (skipped: no ip command to make a test bridge)' : '';

describe.skipIf(!HAS_QEMU || AS_NOBODY_NOTE !== '' || BRIDGE_NOTE !== '')(
  `a bridge interface started by an unprivileged user${QEMU_NOTE}${AS_NOBODY_NOTE}${BRIDGE_NOTE}`,
  () => {
    it("is refused naming the interface, with qemu-bridge-helper's state as the reason; nothing is started", async () => {
      const br = `vkub${process.pid % 10000}`;
      execFileSync(IP as string, ['link', 'add', br, 'type', 'bridge']);
      try {
        const helper = findBridgeHelper();
        const [r] = await startAsNobody(root, [
          guest(
            'bru',
            `<interface type='bridge'><mac address='52:54:00:aa:bb:09'/><source bridge='${br}'/><model type='virtio'/></interface>`,
          ),
        ]);
        expect(r?.uid).toBe(NOBODY?.uid);
        expect(r?.error).toMatchObject({
          code: 'CONFIG_UNSUPPORTED',
          field: '/domain/devices/interface[1]/@type',
        });
        // the reason is the host's: Debian installs the helper without its setuid bit
        const why = !helper
          ? /is not installed/
          : !isSetuidRoot(helper)
            ? /is not setuid root/
            : /does not allow bridge/;
        expect(r?.error?.message).toMatch(why);
        expect(processesMentioning(root)).toEqual([]);
        // no tap was made for the guest
        expect(readdirSync(`/sys/class/net/${br}/brif`)).toEqual([]);
      } finally {
        execFileSync(IP as string, ['link', 'del', br]);
      }
    });
  },
);

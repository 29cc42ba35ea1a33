import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { QEMU_CAPABILITY_FLAGS } from '../../../src/drivers/qemu/probe/capability-flag-names.js';
import { probeQemu } from '../../../src/drivers/qemu/probe/probe.js';
import { formatQemuCapsXml } from '../../../src/drivers/qemu/probe/qemu-caps-xml.js';
import { QEMU_BINARY } from './helpers.js';
import { CAN_RUN_LIBVIRT_SESSION, withLibvirtSession } from './libvirt-session.js';

const CAN_ASK_LIBVIRT = CAN_RUN_LIBVIRT_SESSION;

/** Runs one virsh command against a throw-away session daemon and returns the cache file it wrote. */
function libvirtCacheAsNobody(): string | undefined {
  return withLibvirtSession((virsh, home) => {
    virsh(['domcapabilities', '--virttype', 'qemu', '--emulatorbin', QEMU_BINARY]);
    const dir = join(home, '.cache/libvirt/qemu/cache/capabilities');
    const file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.xml')) : undefined;
    return file ? readFileSync(join(dir, file), 'utf8') : undefined;
  });
}

describe.skipIf(!CAN_ASK_LIBVIRT)(
  `<qemuCaps> against the installed libvirt's cache (TCG)${CAN_ASK_LIBVIRT ? '' : ' (skipped: needs root, virsh, libvirtd, setpriv and QEMU)'}`,
  () => {
    let theirs: string | undefined;
    let ours = '';
    let ourFlags: string[] = [];
    beforeAll(async () => {
      theirs = libvirtCacheAsNobody();
      const run = mkdtempSync(join(tmpdir(), 'vk-probe-'));
      try {
        const caps = await probeQemu(QEMU_BINARY, { kvm: false, runDir: run });
        ourFlags = caps.flags ?? [];
        ours = formatQemuCapsXml(caps, { qemuctime: 0, selfctime: 0, selfvers: 0, microcodeVersion: 0 });
      } finally {
        rmSync(run, { recursive: true, force: true });
      }
    }, 90_000);

    it('every flag libvirt set (and 11.3 still has) is ours', () => {
      expect(theirs).toContain('<qemuCaps>');
      const known = new Set<string>(QEMU_CAPABILITY_FLAGS);
      const theirFlags = [...(theirs ?? '').matchAll(/<flag name='([^']+)'\/>/g)].map((m) => m[1] ?? '');
      expect(theirFlags.filter((f) => known.has(f) && !ourFlags.includes(f))).toEqual([]);
    });

    it('machines, CPU models with blockers, and the host CPU expansion are the same lines', () => {
      const lines = (doc: string, pattern: RegExp) => doc.split('\n').filter((l) => pattern.test(l));
      for (const pattern of [
        /^ {2}<machine type='tcg'/,
        /^ {2}<cpu type='tcg'/,
        /^ {4}<blocker /,
        /^ {4}<property /,
      ]) {
        expect(lines(ours, pattern), String(pattern)).toEqual(lines(theirs ?? '', pattern));
      }
      expect(lines(ours, /^ {2}<hostCPU type='tcg'/)).toEqual(
        lines(theirs ?? '', /^ {2}<hostCPU type='tcg'/),
      );
    });
  },
);

/**
 * The snapshot commands on real QEMU: the same command lines through the
 * virtkit CLI on qemu:///session (state in a temporary directory) and
 * through the installed virsh on a private libvirtd's QEMU driver, each with
 * its own copy of the guest's qcow2 image. A running guest without an OS
 * (SeaBIOS waits), internal snapshots with its memory, the tree, the
 * current one, a revert and the deletes: what both print must be the same,
 * error lines included. Creation times are the clock's, so the lists are
 * asked by name and the info has no time line.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PEER_NOTE, PEER_READY } from '../drivers/qemu-domains/virt-install-peer.js';
import { qemuProcessesMentioning } from '../drivers/qemu-lifecycle/helpers.js';
import { type Daemon, startLibvirtd } from '../drivers/remote/libvirtd.js';
import { runCli } from './run-cli.js';

const HAS_IMG = spawnSync('qemu-img', ['--version']).status === 0;
const NOTE = PEER_NOTE || (HAS_IMG ? '' : ' (skipped: qemu-img not installed; Debian: qemu-utils)');

const guestXml = (image: string) => `<domain type='qemu'>
  <name>vk-cli-snap</name>
  <uuid>6c1a3e0e-2f4b-4d7a-9b1e-5a0c3d2e1f00</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${image}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <memballoon model='none'/>
  </devices>
</domain>
`;

/** The command lines, each run on both sides in this order (one guest, its snapshots build up). */
const LINES = [
  'snapshot-list vk-cli-snap --name',
  'snapshot-current vk-cli-snap',
  'snapshot-create-as vk-cli-snap s1 "first one"',
  'snapshot-create-as vk-cli-snap s2',
  'snapshot-list vk-cli-snap --name',
  'snapshot-list vk-cli-snap --tree',
  'snapshot-list vk-cli-snap --name --roots',
  'snapshot-list vk-cli-snap --name --leaves',
  'snapshot-list vk-cli-snap --name --internal',
  'snapshot-list vk-cli-snap --name --external',
  'snapshot-current vk-cli-snap --name',
  'snapshot-parent vk-cli-snap s2',
  'snapshot-parent vk-cli-snap s1',
  'snapshot-create-as vk-cli-snap s1',
  'snapshot-create-as vk-cli-snap bad/name',
  'snapshot-revert vk-cli-snap s1',
  'domstate vk-cli-snap --reason',
  'snapshot-current vk-cli-snap --name',
  'snapshot-create-as vk-cli-snap s3',
  'snapshot-list vk-cli-snap --tree',
  'snapshot-list vk-cli-snap --name --descendants --from s1',
  'snapshot-delete vk-cli-snap s9',
  'snapshot-delete vk-cli-snap s1 --children-only',
  'snapshot-list vk-cli-snap --tree',
  'snapshot-delete vk-cli-snap s1',
  'snapshot-list vk-cli-snap --name',
  'snapshot-current vk-cli-snap',
  // a paused guest's snapshot, a shut-off one, and the filters by state, location and metadata
  'suspend vk-cli-snap',
  'snapshot-create-as vk-cli-snap p1',
  'resume vk-cli-snap',
  'destroy vk-cli-snap',
  'snapshot-create-as vk-cli-snap off1',
  'snapshot-list vk-cli-snap --name --active',
  'snapshot-list vk-cli-snap --name --inactive',
  'snapshot-list vk-cli-snap --name --disk-only --inactive',
  'snapshot-list vk-cli-snap --name --disk-only',
  'snapshot-list vk-cli-snap --name --internal',
  'snapshot-list vk-cli-snap --name --external',
  'snapshot-list vk-cli-snap --name --internal --external',
  'snapshot-list vk-cli-snap --tree --active',
  'snapshot-list vk-cli-snap --name --metadata',
  'snapshot-list vk-cli-snap --name --no-metadata',
  'snapshot-list vk-cli-snap --name --no-metadata --metadata',
  'snapshot-list vk-cli-snap --name --leaves --active',
  'snapshot-list vk-cli-snap --tree',
];

/** `snapshot-info` without its creation time line. */
const INFO = (name: string) => `snapshot-info vk-cli-snap ${name}`;
const withoutTime = (out: string) =>
  out
    .split('\n')
    .filter((l) => !l.startsWith('Creation Time'))
    .join('\n');

describe.skipIf(!PEER_READY || !HAS_IMG)(
  `snapshot commands on real QEMU beside virsh on libvirtd${NOTE}`,
  () => {
    let daemon: Daemon | undefined;
    let work = '';
    const env: Record<string, string> = {};
    let saved: Record<string, string | undefined> = {};

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'vk-cli-snap-'));
      chmodSync(work, 0o755);
      daemon = await startLibvirtd();
      for (const k of ['CACHE', 'CONFIG', 'STATE', 'RUN', 'LOG'])
        env[`VIRTKIT_QEMU_${k}_DIR`] = join(work, k);
      saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      Object.assign(process.env, env);
    }, 60_000);

    afterAll(async () => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await runCli(['-c', 'qemu:///session', 'destroy vk-cli-snap']).catch(() => undefined);
      for (const pid of qemuProcessesMentioning(work)) process.kill(pid, 'SIGKILL');
      await daemon?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    }, 60_000);

    it('print the same for every create, list, info, revert and delete, errors included', async () => {
      const virsh = (line: string) => {
        const uri = `qemu+unix:///session?socket=${daemon!.socket}`;
        const r = spawnSync('virsh', ['-c', uri, line], {
          encoding: 'utf8',
          env: { ...process.env, LC_ALL: 'C', VIRSH_DEFAULT_CONNECT_URI: '' },
        });
        return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
      };
      const ours = (line: string) => runCli(['-c', 'qemu:///session', line]);
      // each side its own image and definition file, readable by libvirt's QEMU (the daemon's user)
      const files = (side: string) => {
        const dir = join(work, side);
        mkdirSync(dir);
        const image = join(dir, 'disk.qcow2');
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '16M']);
        const xml = join(dir, 'guest.xml');
        writeFileSync(xml, guestXml(image));
        spawnSync('chmod', ['-R', 'a+rwX', dir]);
        return xml;
      };
      const theirsXml = files('libvirt');
      const oursXml = files('virtkit');
      expect(virsh(`define ${theirsXml}`).code).toBe(0);
      expect(virsh('start vk-cli-snap').code).toBe(0);
      expect((await ours(`define ${oursXml}`)).code).toBe(0);
      expect((await ours('start vk-cli-snap')).code).toBe(0);
      try {
        for (const line of [
          ...LINES.slice(0, 11),
          INFO('s1'),
          INFO('s2'),
          ...LINES.slice(11),
          INFO('s3'),
          INFO('p1'),
          INFO('off1'),
        ]) {
          const theirs = virsh(line);
          const mine = await ours(line);
          const shown = line.startsWith('snapshot-info') ? { ...mine, out: withoutTime(mine.out) } : mine;
          const want = line.startsWith('snapshot-info')
            ? { ...theirs, out: withoutTime(theirs.out) }
            : theirs;
          expect(shown, line).toEqual(want);
        }
      } finally {
        virsh('destroy vk-cli-snap');
        virsh('undefine vk-cli-snap --snapshots-metadata');
        await ours('destroy vk-cli-snap');
        await ours('undefine vk-cli-snap --snapshots-metadata');
      }
    }, 180_000);
  },
);

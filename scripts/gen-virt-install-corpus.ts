/**
 * Regenerates fixtures/virt-install/: guests as Debian's `virt-install
 * --print-xml` writes them, against a private libvirtd (its QEMU driver
 * and this host's QEMU), so the QEMU driver's tests start what users
 * actually feed it. Disk, ISO, kernel and share paths live under
 * /var/tmp/vk-corpus (made here); the tests put their own files there.
 *
 *   npx tsx scripts/gen-virt-install-corpus.ts
 *
 * Needs virtinst, libvirt-daemon-driver-qemu and qemu-utils; writes one
 * `<name>.xml` per guest and `corpus.json` (name → virt-install arguments).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLibvirtd } from '../test/drivers/remote/libvirtd.js';

export const CORPUS_DIR = '/var/tmp/vk-corpus';
const OUT = join(import.meta.dirname, '../fixtures/virt-install');

const disk = (name: string, extra = '') => `path=${CORPUS_DIR}/${name}.qcow2,format=qcow2${extra}`;

/** Each guest: what a user would type (minus --connect and --print-xml). */
export const GUESTS: Record<string, string[]> = {
  'linux-server-i440fx': [
    '--machine',
    'pc',
    '--osinfo',
    'debian11',
    '--memory',
    '512',
    '--vcpus',
    '1',
    '--disk',
    disk('server'),
    '--network',
    'user',
    '--graphics',
    'none',
    '--import',
  ],
  'desktop-spice': [
    '--osinfo',
    'debian11',
    '--memory',
    '1024',
    '--vcpus',
    '2',
    '--disk',
    disk('desktop'),
    '--network',
    'user',
    '--graphics',
    'spice',
    '--video',
    'qxl',
    '--sound',
    'ich9',
    '--redirdev',
    'usb,type=spicevmc',
    '--import',
  ],
  'uefi-tpm-agent': [
    '--machine',
    'q35',
    '--osinfo',
    'debian11',
    '--memory',
    '1024',
    '--vcpus',
    '2',
    '--boot',
    'uefi',
    '--disk',
    disk('uefi'),
    '--network',
    'user',
    '--graphics',
    'vnc',
    '--tpm',
    'emulator,model=tpm-crb',
    '--channel',
    'unix,target.type=virtio,target.name=org.qemu.guest_agent.0',
    '--import',
  ],
  'q35-virtio-scsi-server': [
    '--machine',
    'q35',
    '--osinfo',
    'debian11',
    '--memory',
    '1024',
    '--vcpus',
    '2',
    '--controller',
    'scsi,model=virtio-scsi',
    '--disk',
    disk('scsi', ',bus=scsi'),
    '--network',
    'user',
    '--serial',
    'pty',
    '--serial',
    'pty',
    '--watchdog',
    'i6300esb,action=reset',
    '--graphics',
    'none',
    '--import',
  ],
  'windows-hyperv': [
    '--osinfo',
    'win10',
    '--memory',
    '2048',
    '--vcpus',
    '2',
    '--disk',
    disk('win', ',bus=sata'),
    '--network',
    'user,model=e1000e',
    '--graphics',
    'vnc',
    '--import',
  ],
  // (no passt guest: Debian 12's virt-install 4.1 has no --network backend.type option)
  'bridge-network': [
    '--osinfo',
    'debian11',
    '--memory',
    '512',
    '--vcpus',
    '1',
    '--disk',
    disk('bridge'),
    '--network',
    'bridge=vkbr0,model=virtio',
    '--graphics',
    'none',
    '--import',
  ],
  virtiofs: [
    '--osinfo',
    'debian11',
    '--memory',
    '1024',
    '--vcpus',
    '1',
    '--disk',
    disk('fs'),
    '--memorybacking',
    'source.type=memfd,access.mode=shared',
    '--filesystem',
    `${CORPUS_DIR}/share,share,driver.type=virtiofs`,
    '--network',
    'none',
    '--graphics',
    'none',
    '--import',
  ],
  'cdrom-installer': [
    '--osinfo',
    'debian11',
    '--memory',
    '1024',
    '--vcpus',
    '2',
    '--disk',
    disk('install'),
    '--cdrom',
    `${CORPUS_DIR}/install.iso`,
    '--network',
    'user',
    '--graphics',
    'vnc',
  ],
  'direct-kernel-boot': [
    '--osinfo',
    'debian11',
    '--memory',
    '256',
    '--vcpus',
    '1',
    '--disk',
    disk('kernel'),
    '--boot',
    `kernel=${CORPUS_DIR}/vmlinuz,initrd=${CORPUS_DIR}/initrd.img,kernel_args=console=ttyS0 quiet`,
    '--network',
    'user',
    '--graphics',
    'none',
    '--rng',
    '/dev/urandom',
    '--import',
  ],
  'usb-tablet-vnc-i440fx': [
    '--machine',
    'pc',
    '--osinfo',
    'debian11',
    '--memory',
    '512',
    '--vcpus',
    '1',
    '--disk',
    disk('tablet'),
    '--network',
    'user',
    '--graphics',
    'vnc',
    '--input',
    'tablet,bus=usb',
    '--import',
  ],
};

/**
 * The files the guests name, so virt-install (and QEMU, in tests) finds them;
 * under `dir` instead of {@link CORPUS_DIR} for a test that moves the paths
 * (one user's copy). Returns the files made.
 */
export function makeCorpusFiles(dir = CORPUS_DIR): string[] {
  const made = [join(dir, 'share')];
  mkdirSync(made[0] as string, { recursive: true });
  for (const args of Object.values(GUESTS))
    for (const a of args) {
      const m = /path=([^,]+\.qcow2)/.exec(a);
      if (!m?.[1]) continue;
      const file = join(dir, m[1].slice(CORPUS_DIR.length + 1));
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '64M']);
      made.push(file);
    }
  for (const f of ['install.iso', 'vmlinuz', 'initrd.img']) {
    writeFileSync(join(dir, f), '');
    made.push(join(dir, f));
  }
  return made;
}

async function main(): Promise<void> {
  makeCorpusFiles();
  const daemon = await startLibvirtd();
  try {
    const uri = `qemu+unix:///session?socket=${daemon.socket}`;
    mkdirSync(OUT, { recursive: true });
    const index: Record<string, string[]> = {};
    for (const [name, args] of Object.entries(GUESTS)) {
      const full = ['--connect', uri, '--print-xml', '--name', `vk-${name}`, '--noautoconsole', ...args];
      const r = spawnSync('virt-install', full, { encoding: 'utf8' });
      if (r.status !== 0) {
        console.error(`${name}: virt-install failed: ${r.stderr.trim()}`);
        continue;
      }
      // an install from media prints two documents: the install boot, then the installed guest
      const docs = r.stdout.split(/(?<=<\/domain>\n)/).filter((d) => d.trim() !== '');
      writeFileSync(join(OUT, `${name}.xml`), docs[0] ?? '');
      if (docs[1] !== undefined) writeFileSync(join(OUT, `${name}-installed.xml`), docs[1]);
      index[name] = args;
      console.log(`${name}: ${r.stdout.length} bytes`);
    }
    writeFileSync(join(OUT, 'corpus.json'), `${JSON.stringify(index, null, 2)}\n`);
  } finally {
    await daemon.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

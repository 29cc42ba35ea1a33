/**
 * Secrets in the QEMU driver's documents: a display's password and a
 * network disk's HTTP cookies are in `getXML` and `getSnapshotXML` only with
 * `secure` (libvirt's `VIR_DOMAIN_XML_SECURE`, `virsh dumpxml
 * --security-info`), in the persistent, live and migratable forms and in a
 * snapshot's `<domain>`; the definition on disk keeps them for the next
 * start. Real QEMU (TCG) for the running guest and qemu-img's internal
 * snapshot.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu-lifecycle/helpers.js';
import { rootsEachTest } from '../real-guest.js';

const each = rootsEachTest('vk-secrets-');

const COOKIE_DISK = `<disk type='network' device='cdrom'><driver name='qemu' type='raw'/>
  <source protocol='https' name='/install.iso'><host name='example.org' port='443'/>
  <cookies><cookie name='session'>t0ken</cookie></cookies></source>
  <target dev='hdc' bus='ide'/><readonly/></disk>`;

const guest = (name: string, devices: string) =>
  `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>${QEMU_BINARY}</emulator>
  ${devices}<graphics type='vnc' passwd='s3cret'/></devices></domain>`;

describe.skipIf(!HAS_QEMU)(`display passwords and disk cookies only with secure${QEMU_NOTE}`, () => {
  it('are left out of the persistent and migratable XML, and kept on disk', async () => {
    const conn = await each.connect();
    const dom = await conn.defineDomain(guest('vk-secret-def', COOKIE_DISK));
    for (const opts of [{}, { inactive: true }, { migratable: true }]) {
      const xml = await dom.getXML(opts);
      expect(xml).toContain("<graphics type='vnc'");
      expect(xml).not.toContain('s3cret');
      expect(xml).not.toContain('t0ken');
      expect(xml).toContain("<host name='example.org' port='443'/>");
      const secure = await dom.getXML({ ...opts, secure: true });
      expect(secure).toContain("passwd='s3cret'");
      expect(secure).toContain("<cookie name='session'>t0ken</cookie>");
    }
    // the stored definition is what the next start needs
    const stored = readFileSync(join(each.path, 'config', 'qemu', 'vk-secret-def.xml'), 'utf8');
    expect(stored).toContain("passwd='s3cret'");
    await dom.undefine();
  });

  it("are left out of a running guest's live XML and of a snapshot's domain", async () => {
    const conn = await each.connect();
    const image = join(each.path, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '8M']);
    const disk = `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${image}'/><target dev='vda' bus='virtio'/></disk>`;
    const dom = await conn.defineDomain(guest('vk-secret-run', disk));
    // an internal snapshot of the shut-off guest (qemu-img)
    const snap = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    expect(snap).toBe('s1');
    const snapXml = await dom.getSnapshotXML('s1');
    expect(snapXml).toContain("<graphics type='vnc'");
    expect(snapXml).not.toContain('s3cret');
    expect(await dom.getSnapshotXML('s1', { secure: true })).toContain("passwd='s3cret'");
    await dom.start();
    try {
      const live = await dom.getXML();
      expect(live).toMatch(/<graphics type='vnc' port='\d+'/);
      expect(live).not.toContain('s3cret');
      expect(await dom.getXML({ secure: true })).toContain("passwd='s3cret'");
      // QEMU got the password over the monitor, not on its command line
      const status = readFileSync(join(each.path, 'state', 'qemu', 'vk-secret-run.xml'), 'utf8');
      const pid = Number(/<domstatus [^>]*pid='(\d+)'/.exec(status)?.[1]);
      expect(pid).toBeGreaterThan(0);
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain('s3cret');
    } finally {
      await dom.destroy();
    }
  }, 60_000);
});

/**
 * `<disk type='volume'>` on the command line: the storage driver's answer
 * (a file, a block device, a directory, or an iSCSI LUN QEMU logs into
 * itself with `mode='direct'`) replaces the pool and volume names. Expected
 * tokens are libvirt 11.3's for the same XML (its qemuxmlconf cases
 * disk-source-pool, disk-source-pool-mode, luks-disks-source-qcow2); the
 * CHAP rule (a direct LUN logs in with its pool's credentials, never the
 * disk's) is what disk-source-pool-mode shows for a disk with its own
 * `<auth>`.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import {
  buildCommandLine,
  type CommandLinePaths,
  type ResolvedVolume,
  type VolumeRequest,
} from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const SECRET = 'chap-password,with=commas';
const BASE: CommandLinePaths = {
  domainDir: '/run/vk/dom',
  monitor: { path: '/run/vk/dom/monitor.sock' },
  masterKeyPath: '/run/vk/dom/master-key.aes',
  secrets: {
    masterKey: Uint8Array.from({ length: 32 }, (_, i) => i),
    iv: () => Uint8Array.from({ length: 16 }, (_, i) => i),
    value: () => new TextEncoder().encode(SECRET),
  },
};

function argv(devices: string, resolve: (r: VolumeRequest) => ResolvedVolume): string[] {
  const caps = fixtureCaps();
  const d = applyQemuDefaults(DomainDef.fromXML(tinyDomainXml({ devices })), caps);
  return buildCommandLine(d, caps, { ...BASE, resolveVolume: resolve }).argv;
}

const blockdevs = (args: string[]) =>
  args.flatMap((a, i) => (args[i - 1] === '-blockdev' ? [JSON.parse(a) as Record<string, unknown>] : []));
const objects = (args: string[]) => args.filter((_, i) => args[i - 1] === '-object');

const DIRECT = (auth = '') =>
  `<disk type='volume' device='disk'>${auth}<source pool='san' volume='unit:0:0:3' mode='direct'/><target dev='vda' bus='virtio'/></disk>`;
const LUN3: ResolvedVolume = {
  type: 'network',
  protocol: 'iscsi',
  name: 'iqn.2013-07.com.example:san/3',
  hosts: [{ name: 'san.example.com', port: '3260' }],
};

describe('volume disks', () => {
  it('a file volume becomes a file node at its path; the request names pool, volume and mode', () => {
    const seen: VolumeRequest[] = [];
    const args = argv(
      "<disk type='volume' device='disk'><source pool='p' volume='v.img'/><target dev='vda' bus='virtio'/></disk>",
      (r) => {
        seen.push(r);
        return { type: 'file', path: '/pools/p/v.img' };
      },
    );
    expect(seen).toEqual([{ pool: 'p', volume: 'v.img', field: '/domain/devices/disk[1]/source' }]);
    expect(blockdevs(args)[0]).toMatchObject({ driver: 'file', filename: '/pools/p/v.img' });
  });

  it("an iSCSI LUN in mode='direct' is QEMU's iscsi driver on the pool's portal, target and LUN", () => {
    const args = argv(DIRECT(), () => LUN3);
    expect(blockdevs(args)[0]).toMatchObject({
      driver: 'iscsi',
      portal: 'san.example.com:3260',
      target: 'iqn.2013-07.com.example:san',
      lun: 3,
      transport: 'tcp',
    });
    expect(objects(args).some((o) => o.includes('auth-secret'))).toBe(false);
  });

  it("the pool's CHAP login replaces the disk's own <auth>; the password stays off the command line", () => {
    const diskAuth = "<auth username='disk-user'><secret type='iscsi' usage='disk-usage'/></auth>";
    const args = argv(DIRECT(diskAuth), () => ({
      ...LUN3,
      auth: { username: 'pool-user', secret: { type: 'iscsi', usage: 'pool-usage' } },
    }));
    const node = blockdevs(args)[0]!;
    expect(node).toMatchObject({
      user: 'pool-user',
      'password-secret': `${String(node['node-name'])}-auth-secret0`,
    });
    expect(args.join(' ')).not.toContain('disk-user');
    expect(args.join(' ')).not.toContain(SECRET);
    // the secret object carries the password encrypted with the master key
    expect(objects(args).find((o) => o.includes('auth-secret0'))).toContain('"keyid":"masterKey0"');
    // and without a pool login, the disk's own is not used either
    expect(argv(DIRECT(diskAuth), () => LUN3).join(' ')).not.toContain('disk-user');
  });

  it('a pool the resolver does not know is its typed error, naming the source', () => {
    let err: unknown;
    try {
      argv(DIRECT(), (r) => {
        throw new VirError('NO_STORAGE_POOL', 'storage', `no storage pool with matching name '${r.pool}'`, {
          field: r.field,
        });
      });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'NO_STORAGE_POOL', field: '/domain/devices/disk[1]/source' });
  });
});

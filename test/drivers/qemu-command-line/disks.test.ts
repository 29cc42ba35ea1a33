/**
 * `<disk>` on the command line: libvirt's block node chains, device
 * properties, credentials through `-object secret`, and refusals. Expected
 * JSON is libvirt 11.3's (its qemuxmlconf data: disk-network-rbd,
 * disk-network-iscsi, disk-cdrom, disk-aio-io_uring, luks-disks), whose
 * harness uses the same fixed master key, IV and secret value as here.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { fixtureCaps } from './caps-fixture.js';

const secrets = {
  masterKey: Uint8Array.from({ length: 32 }, (_, i) => i),
  iv: () => Uint8Array.from({ length: 16 }, (_, i) => i),
  value: () => new TextEncoder().encode('AQCVn5hO6HzFAhAAq0NCv8jtJcIcE+HOBlMQ1A'),
};
const paths = {
  domainDir: '/var/lib/x',
  monitor: { path: '/var/lib/x/monitor.sock' },
  masterKeyPath: '/var/lib/x/master-key.aes',
  secrets,
};
/** libvirt's value for that secret under that key and IV. */
const SECRET_DATA = '9eao5F8qtkGt+seB1HYivWIxbtwUu6MQtg1zpj/oDtUsPr1q8wBYM91uEHCn6j/1';

function argvOf(disks: string, p: object = paths): string[] {
  const def = DomainDef.fromXML(`<domain type='qemu'>
  <name>d</name>
  <memory unit='KiB'>65536</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>${disks}</devices>
</domain>`);
  return buildCommandLine(def, fixtureCaps(), { ...paths, ...p }).argv;
}

/** The JSON objects given to one option, in order. */
function objects(argv: string[], option: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < argv.length - 1; i++)
    if (argv[i] === option) out.push(JSON.parse(argv[i + 1] as string) as Record<string, unknown>);
  return out;
}

describe('disk block nodes', () => {
  it('numbers empty drives too, from the last disk up', () => {
    const argv = argvOf(`
      <disk type='block' device='cdrom'><driver name='qemu' type='raw'/><source dev='/dev/cdrom'/>
        <target dev='hda' bus='ide'/></disk>
      <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>`);
    expect(objects(argv, '-blockdev')).toEqual([
      { driver: 'host_cdrom', filename: '/dev/cdrom', 'node-name': 'libvirt-2-storage', 'read-only': true },
    ]);
    expect(objects(argv, '-device').filter((d) => d.driver === 'ide-cd')).toEqual([
      { driver: 'ide-cd', bus: 'ide.0', unit: 0, drive: 'libvirt-2-storage', id: 'ide0-0-0' },
      { driver: 'ide-cd', bus: 'ide.1', unit: 0, id: 'ide0-1-0' },
    ]);
  });

  it('applies aio and cache to every layer of the chain, detect-zeroes to the top only', () => {
    const argv = argvOf(`
      <disk type='file' device='disk'>
        <driver name='qemu' type='qcow2' io='io_uring' cache='none' discard='unmap' detect_zeroes='unmap'/>
        <source file='/a.qcow2'/>
        <backingStore type='file'><format type='raw'/><source file='/b.raw'/></backingStore>
        <target dev='vda' bus='virtio'/>
      </disk>`);
    const cache = { direct: true, 'no-flush': false };
    expect(objects(argv, '-blockdev')).toEqual([
      {
        driver: 'file',
        filename: '/b.raw',
        aio: 'io_uring',
        'node-name': 'libvirt-2-storage',
        'read-only': true,
        discard: 'unmap',
        cache,
      },
      {
        driver: 'file',
        filename: '/a.qcow2',
        aio: 'io_uring',
        'node-name': 'libvirt-1-storage',
        'auto-read-only': true,
        discard: 'unmap',
        cache,
      },
      {
        'node-name': 'libvirt-1-format',
        'read-only': false,
        discard: 'unmap',
        'detect-zeroes': 'unmap',
        cache,
        driver: 'qcow2',
        file: 'libvirt-1-storage',
        backing: 'libvirt-2-storage',
      },
    ]);
  });

  it('refuses a backing image under a raw image', () => {
    expect(() =>
      argvOf(`<disk type='file'><driver name='qemu' type='raw'/><source file='/a'/>
        <backingStore type='file'><format type='raw'/><source file='/b'/></backingStore>
        <target dev='vda' bus='virtio'/></disk>`),
    ).toThrow(
      expect.objectContaining({ code: 'CONFIG_UNSUPPORTED', field: '/domain/devices/disk[1]/backingStore' }),
    );
  });
});

describe('disk devices', () => {
  it('escapes spaces in the serial and writes a 64-bit WWN exactly', () => {
    const argv = argvOf(`<disk type='file'><source file='/a'/><target dev='sda' bus='scsi'/>
      <serial>a b</serial><wwn>5000c50015ea71ad</wwn></disk>`);
    const text = argv.find((a) => a.includes('"scsi-hd"')) ?? '';
    expect(text).toContain('"wwn":5764824127192592813');
    expect(JSON.parse(text)).toMatchObject({ device_id: 'a b', serial: 'a\\ b', id: 'scsi0-0-0' });
  });

  it('gives a writable shared disk without a cache mode cache=none', () => {
    const argv = argvOf(
      `<disk type='file'><source file='/a'/><target dev='vda' bus='virtio'/><shareable/></disk>`,
    );
    expect(objects(argv, '-blockdev')[0]).toMatchObject({ cache: { direct: true, 'no-flush': false } });
    expect(objects(argv, '-device').find((d) => d.driver === 'virtio-blk-pci')).toMatchObject({
      'share-rw': true,
      'write-cache': 'on',
    });
  });
});

describe('network disks and credentials', () => {
  it('refuses a disk whose secret does not exist with NO_SECRET, naming the field, and nothing in clear', () => {
    const disk = `<disk type='network'><driver name='qemu' type='raw'/>
      <auth username='myname'><secret type='ceph' usage='nonexistent'/></auth>
      <source protocol='rbd' name='pool/image'><host name='mon1.example.org'/></source>
      <target dev='vda' bus='virtio'/></disk>`;
    let err: unknown;
    try {
      argvOf(disk, { secrets: { ...secrets, value: () => undefined } });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: 'VirError', code: 'NO_SECRET' });
    expect((err as { field?: string }).field).toMatch(/^\/domain\/devices\/disk\[1\]/);
  });

  it('gives the rbd key through an encrypted secret object', () => {
    const argv = argvOf(`<disk type='network'><driver name='qemu' type='raw'/>
      <auth username='myname'><secret type='ceph' usage='mycluster_myname'/></auth>
      <source protocol='rbd' name='pool/image'><host name='mon1.example.org' port='6321'/></source>
      <target dev='vda' bus='virtio'/></disk>`);
    expect(objects(argv, '-object').find((o) => o.id === 'libvirt-1-storage-auth-secret0')).toEqual({
      'qom-type': 'secret',
      id: 'libvirt-1-storage-auth-secret0',
      data: SECRET_DATA,
      keyid: 'masterKey0',
      iv: 'AAECAwQFBgcICQoLDA0ODw==',
      format: 'base64',
    });
    expect(objects(argv, '-blockdev')).toEqual([
      {
        driver: 'rbd',
        pool: 'pool',
        image: 'image',
        server: [{ host: 'mon1.example.org', port: '6321' }],
        user: 'myname',
        'auth-client-required': ['cephx', 'none'],
        'key-secret': 'libvirt-1-storage-auth-secret0',
        'node-name': 'libvirt-1-storage',
        'read-only': false,
      },
    ]);
    expect(argv.join(' ')).not.toContain('AQCVn5hO6HzFAhAAq0NCv8jtJcIcE');
  });

  it('writes an iSCSI portal with the default port and LUN 0', () => {
    const argv = argvOf(`<disk type='network'><driver name='qemu' type='raw'/>
      <source protocol='iscsi' name='iqn.1992-01.com.example'><host name='example.org'/></source>
      <target dev='vda' bus='virtio'/></disk>`);
    expect(objects(argv, '-blockdev')[0]).toEqual({
      driver: 'iscsi',
      portal: 'example.org:3260',
      target: 'iqn.1992-01.com.example',
      lun: 0,
      transport: 'tcp',
      'node-name': 'libvirt-1-storage',
      'read-only': false,
    });
  });

  it('opens a raw LUKS image with the luks driver and its key as a secret', () => {
    const argv = argvOf(`<disk type='file'><driver name='qemu' type='raw'/><source file='/e'/>
      <target dev='vda' bus='virtio'/>
      <encryption format='luks' engine='qemu'><secret type='passphrase' usage='/e'/></encryption></disk>`);
    expect(objects(argv, '-object').map((o) => o.id)).toContain('libvirt-1-format-encryption-secret0');
    expect(objects(argv, '-blockdev')[1]).toEqual({
      'node-name': 'libvirt-1-format',
      'read-only': false,
      driver: 'luks',
      'key-secret': 'libvirt-1-format-encryption-secret0',
      file: 'libvirt-1-storage',
    });
  });

  it('refuses credentials when no master key is given, rather than writing them in clear', () => {
    expect(() =>
      argvOf(
        `<disk type='network'><auth username='u'><secret type='iscsi' usage='x'/></auth>
        <source protocol='iscsi' name='iqn.x/1'><host name='h'/></source><target dev='vda' bus='virtio'/></disk>`,
        { secrets: undefined },
      ),
    ).toThrow(expect.objectContaining({ code: 'CONFIG_UNSUPPORTED' }));
  });

  it('gives an NBD disk with TLS its x509 client credentials (libvirt: disk-network-tlsx509-nbd)', () => {
    const argv = argvOf(
      `<disk type='network'><driver name='qemu' type='raw'/>
      <source protocol='nbd' tls='yes'><host name='example.com' port='1234'/></source>
      <target dev='vda' bus='virtio'/></disk>`,
      { nbdTls: { dir: '/etc/pki/libvirt-nbd', verifyPeer: true } },
    );
    expect(objects(argv, '-object').at(-1)).toEqual({
      'qom-type': 'tls-creds-x509',
      id: 'objlibvirt-1-storage_tls0',
      dir: '/etc/pki/libvirt-nbd',
      endpoint: 'client',
      'verify-peer': true,
    });
    expect(objects(argv, '-blockdev')[0]).toEqual({
      driver: 'nbd',
      server: { type: 'inet', host: 'example.com', port: '1234' },
      'tls-creds': 'objlibvirt-1-storage_tls0',
      'node-name': 'libvirt-1-storage',
      'read-only': false,
    });
  });

  it('refuses what it cannot build yet, naming the field', () => {
    const nbdTls = `<disk type='network'><source protocol='nbd' name='e' tls='yes'><host name='h'/></source>
      <target dev='vda' bus='virtio'/></disk>`;
    expect(() => argvOf(nbdTls)).toThrow(
      expect.objectContaining({ code: 'CONFIG_UNSUPPORTED', field: '/domain/devices/disk[1]/source/@tls' }),
    );
    const sheepdog = `<disk type='network'><source protocol='sheepdog' name='e'><host name='h'/></source>
      <target dev='vda' bus='virtio'/></disk>`;
    expect(() => argvOf(sheepdog)).toThrow(
      expect.objectContaining({
        code: 'CONFIG_UNSUPPORTED',
        field: '/domain/devices/disk[1]/source/@protocol',
      }),
    );
  });

  it('refuses a path with a line break and a port out of range', () => {
    expect(() =>
      argvOf(`<disk type='file'><source file='/a&#10;b'/><target dev='vda' bus='virtio'/></disk>`),
    ).toThrow(expect.objectContaining({ field: '/domain/devices/disk[1]/source/@file' }));
    expect(() =>
      argvOf(`<disk type='network'><source protocol='nbd'><host name='h' port='70000'/></source>
        <target dev='vda' bus='virtio'/></disk>`),
    ).toThrow(
      expect.objectContaining({ code: 'XML_DETAIL', field: '/domain/devices/disk[1]/source/host[1]/@port' }),
    );
  });
});

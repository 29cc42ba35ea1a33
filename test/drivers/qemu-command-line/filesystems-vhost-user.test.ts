/**
 * Filesystems (9p, virtiofs, MTP), vsock and vhost-user devices on the
 * command line: hostile paths and tags reach QEMU intact (a comma doubled
 * in `-fsdev`/`-chardev` key=value lists, as QEMU's option parser wants;
 * JSON values untouched) or are refused when QEMU cannot carry them, and
 * what QEMU or virtkit cannot do is refused naming the field. Expected
 * shapes follow libvirt 11.3's qemuxmlconf args (fs9p, vhost-user-fs-*,
 * mtp-usb-device, vhost-vsock, vhost-user-vga, disk-vhostuser).
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine, virtiofsSocketPath } from '../../../src/drivers/qemu/command-line/index.js';
import type { CommandLinePaths } from '../../../src/drivers/qemu/command-line/types.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import type { VirError } from '../../../src/errors.js';
import { fixtureCaps, xmlEscape } from './caps-fixture.js';

const basePaths: CommandLinePaths = { domainDir: '/var/lib/x', monitor: { path: '/var/lib/x/monitor.sock' } };

function domainXml(devices: string, shared = true): string {
  return `<domain type='qemu'>
  <name>fs</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='MiB'>32</memory>
  ${shared ? "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>" : ''}
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>${devices}</devices>
</domain>`;
}

function define(devices: string, shared = true): DomainDef {
  return applyQemuDefaults(
    DomainDef.fromXML(domainXml(devices, shared), { deferImplicitControllers: true }),
    fixtureCaps(),
  );
}

function argvOf(devices: string, paths: CommandLinePaths = basePaths, shared = true): string[] {
  return buildCommandLine(define(devices, shared), fixtureCaps(), paths).argv;
}

function valuesOf(argv: string[], option: string, n = 0): string[] {
  return argv.flatMap((a, i) => (a === option ? [argv[i + 1] ?? ''] : [])).slice(n);
}

function refusal(f: () => unknown): VirError {
  try {
    f();
  } catch (e) {
    return e as VirError;
  }
  throw new Error('expected a refusal');
}

const share9p = (src: string, tag: string, extra = '') =>
  `<filesystem type='mount'${extra}><source dir='${xmlEscape(src)}'/><target dir='${xmlEscape(tag)}'/></filesystem>`;

describe('9p shares', () => {
  it('doubles commas of the source in -fsdev and keeps the tag as is in the JSON device', () => {
    const argv = argvOf(share9p('/srv/a,b=c', 'tag,x=1'));
    expect(valuesOf(argv, '-fsdev')).toEqual([
      'local,security_model=passthrough,id=fsdev-fs0,path=/srv/a,,b=c',
    ]);
    const dev = JSON.parse(valuesOf(argv, '-device').find((d) => d.includes('virtio-9p-pci')) ?? '{}');
    expect(dev).toMatchObject({
      driver: 'virtio-9p-pci',
      id: 'fs0',
      fsdev: 'fsdev-fs0',
      mount_tag: 'tag,x=1',
    });
  });

  it('writes mapped modes in four octal digits, multidevs and the write policy', () => {
    const argv = argvOf(
      `<filesystem accessmode='mapped' fmode='644' dmode='0755' multidevs='remap'>
        <driver type='path' wrpolicy='immediate'/><source dir='/srv'/><target dir='t'/></filesystem>`,
    );
    expect(valuesOf(argv, '-fsdev')).toEqual([
      'local,security_model=mapped,multidevs=remap,fmode=0644,dmode=0755,writeout=immediate,id=fsdev-fs0,path=/srv',
    ]);
  });

  it("reads libvirt's 'default' values as unset", () => {
    const xml = define(
      `<filesystem accessmode='default' multidevs='default'><driver type='default' wrpolicy='default'/>
        <source dir='/srv'/><target dir='t'/></filesystem>`,
    ).toXML();
    expect(xml).toContain("<filesystem type='mount' accessmode='passthrough'>");
    expect(xml).not.toContain('default');
    expect(xml).not.toContain('<driver/>');
  });

  it('formats modes as libvirt does and refuses one above 0777', () => {
    expect(define(share9p('/srv', 't', " accessmode='mapped' fmode='644'")).toXML()).toContain(
      "fmode='0644'",
    );
    expect(refusal(() => define(share9p('/srv', 't', " accessmode='mapped' fmode='1777'"))).code).toBe(
      'XML_DETAIL',
    );
  });

  it('refuses a newline in the source or the tag, naming the attribute', () => {
    // A raw newline in an attribute reads as a space (XML's rule): a character reference keeps it.
    const raw = (src: string, tag: string) =>
      `<filesystem><source dir='${src}'/><target dir='${tag}'/></filesystem>`;
    const e1 = refusal(() => argvOf(raw('/srv/a&#10;b', 't')));
    expect(e1.code).toBe('XML_DETAIL');
    expect(e1.field).toBe('/domain/devices/filesystem[1]/source/@dir');
    const e2 = refusal(() => argvOf(raw('/srv', 'bad&#10;tag')));
    expect(e2.field).toBe('/domain/devices/filesystem[1]/target/@dir');
  });

  it('refuses what QEMU cannot do with a share', () => {
    const cases: Array<[string, string]> = [
      [`<filesystem type='block'><source dev='/dev/sda'/><target dir='t'/></filesystem>`, '/@type'],
      [share9p('/srv', 't', " fmode='0644'"), '/@fmode'],
      [
        `<filesystem><driver type='loop' format='raw'/><source dir='/srv'/><target dir='t'/></filesystem>`,
        '/driver/@type',
      ],
      [
        `<filesystem accessmode='mapped'><driver type='handle'/><source dir='/srv'/><target dir='t'/></filesystem>`,
        '/@accessmode',
      ],
      [
        `<filesystem><binary path='/usr/libexec/virtiofsd'/><source dir='/srv'/><target dir='t'/></filesystem>`,
        '/binary',
      ],
      [`<filesystem><source dir='/srv'/><target dir='t'/><boot order='1'/></filesystem>`, '/boot'],
    ];
    for (const [xml, at] of cases) {
      const e = refusal(() => argvOf(xml));
      expect(e.code, xml).toBe('CONFIG_UNSUPPORTED');
      expect(e.field, xml).toBe(`/domain/devices/filesystem[1]${at}`);
    }
  });
});

describe('virtiofs shares', () => {
  const virtiofs = (extra = '', source = "<source dir='/srv'/>") =>
    `<filesystem><driver type='virtiofs'${extra}/>${source}<target dir='tag,1'/></filesystem>`;

  it("connects to the daemon's socket in the domain's private dir, the path computed in one place", () => {
    const paths = { ...basePaths, domainDir: '/var/lib/q,dir' };
    const def = define(virtiofs(" queue='1024'"));
    const fs = def.devices?.filesystems?.[0];
    if (!fs) throw new Error('no filesystem');
    expect(virtiofsSocketPath(fs, 0, paths.domainDir)).toBe('/var/lib/q,dir/fs0-fs.sock');
    const argv = buildCommandLine(def, fixtureCaps(), paths).argv;
    expect(valuesOf(argv, '-chardev')).toContain('socket,id=chr-vu-fs0,path=/var/lib/q,,dir/fs0-fs.sock');
    const dev = JSON.parse(valuesOf(argv, '-device').find((d) => d.includes('vhost-user-fs-pci')) ?? '{}');
    expect(dev).toMatchObject({ id: 'fs0', chardev: 'chr-vu-fs0', 'queue-size': 1024, tag: 'tag,1' });
  });

  it("uses the definition's own socket, escaped, and refuses one with a newline", () => {
    const own = virtiofs('', "<source socket='/run/a,b.sock'/>");
    expect(valuesOf(argvOf(own), '-chardev')).toContain('socket,id=chr-vu-fs0,path=/run/a,,b.sock');
    const e = refusal(() => argvOf(virtiofs('', "<source socket='/run/a&#10;b.sock'/>")));
    expect(e.field).toBe('/domain/devices/filesystem[1]/source/@socket');
  });

  it('refuses a guest whose memory the daemon cannot map', () => {
    const e = refusal(() => argvOf(virtiofs(), basePaths, false));
    expect(e.code).toBe('CONFIG_UNSUPPORTED');
    expect(e.field).toBe('/domain/devices/filesystem[1]');
  });

  it('refuses two shares with one tag', () => {
    const e = refusal(() => argvOf(virtiofs() + virtiofs()));
    expect(e.code).toBe('CONFIG_UNSUPPORTED');
    expect(e.field).toBe('/domain/devices/filesystem[2]/target/@dir');
  });

  it('refuses 9p-only settings', () => {
    const e = refusal(() => argvOf(virtiofs(" wrpolicy='immediate'")));
    expect(e.field).toBe('/domain/devices/filesystem[1]/driver/@wrpolicy');
  });
});

describe('MTP shares', () => {
  it('is a usb-mtp device with the root dir and description as given', () => {
    const argv = argvOf(
      `<controller type='usb' model='piix3-uhci'/>
      <filesystem><driver type='mtp'/><source dir='/srv/a,b'/><target dir='d=1,x'/><readonly/></filesystem>`,
    );
    const dev = JSON.parse(valuesOf(argv, '-device').find((d) => d.includes('usb-mtp')) ?? '{}');
    expect(dev).toMatchObject({
      driver: 'usb-mtp',
      id: 'fs0',
      rootdir: '/srv/a,b',
      desc: 'd=1,x',
      readonly: true,
    });
  });

  it('refuses virtio options on it', () => {
    const e = refusal(() =>
      argvOf(`<filesystem><driver type='mtp' iommu='on'/><source dir='/srv'/><target dir='t'/></filesystem>`),
    );
    expect(e.field).toBe('/domain/devices/filesystem[1]/driver/@iommu');
  });
});

describe('vsock', () => {
  const vsock = `<vsock model='virtio'><cid auto='no' address='5'/><driver iommu='on'/></vsock>`;

  it('hands QEMU the descriptor and CID the host set up', () => {
    const seen: unknown[] = [];
    const paths = {
      ...basePaths,
      vhostVsock: (req: { cid?: number; auto: boolean }) => {
        seen.push(req);
        return { fd: 42, cid: req.cid ?? 3 };
      },
    };
    const dev = JSON.parse(
      valuesOf(argvOf(vsock, paths), '-device').find((d) => d.includes('vhost-vsock')) ?? '{}',
    );
    expect(seen).toEqual([{ auto: false, cid: 5 }]);
    expect(dev).toMatchObject({
      driver: 'vhost-vsock-pci',
      iommu_platform: true,
      id: 'vsock0',
      'guest-cid': 5,
      vhostfd: '42',
    });
  });

  it('is refused without a host descriptor, and with a reserved CID', () => {
    expect(refusal(() => argvOf(vsock)).code).toBe('CONFIG_UNSUPPORTED');
    const paths = { ...basePaths, vhostVsock: () => ({ fd: 42, cid: 2 }) };
    expect(refusal(() => argvOf(`<vsock model='virtio'><cid address='2'/></vsock>`, paths)).field).toBe(
      '/domain/devices/vsock/cid/@address',
    );
  });
});

describe('vhost-user devices', () => {
  it('refuses a vhost-user video without a socket to its backend', () => {
    const e = refusal(() =>
      argvOf(`<video><driver name='vhostuser'/><model type='virtio' heads='1'/></video>`),
    );
    expect(e.code).toBe('CONFIG_UNSUPPORTED');
    expect(e.field).toBe('/domain/devices/video[1]/driver/@name');
  });

  it('refuses virtio options on a video that is not virtio', () => {
    const e = refusal(() => argvOf(`<video><driver ats='on'/><model type='vga'/></video>`));
    expect(e.code).toBe('CONFIG_UNSUPPORTED');
    expect(e.field).toBe('/domain/devices/video[1]/driver/@ats');
  });

  it('writes a vhost-user disk as a socket chardev and vhost-user-blk, escaping the path', () => {
    const argv = argvOf(`<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' packed='on'/>
      <source type='unix' path='/run/v,1.sock'/><target dev='vda' bus='virtio'/></disk>`);
    expect(valuesOf(argv, '-chardev')).toContain('socket,id=chr-vu-virtio-disk0,path=/run/v,,1.sock');
    expect(argv.some((a) => a.includes('-blockdev'))).toBe(false);
    const dev = JSON.parse(valuesOf(argv, '-device').find((d) => d.includes('vhost-user-blk')) ?? '{}');
    expect(dev).toMatchObject({ driver: 'vhost-user-blk-pci', packed: true, chardev: 'chr-vu-virtio-disk0' });
  });

  it('refuses block-node options on a vhost-user disk', () => {
    const e = refusal(() =>
      argvOf(`<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' cache='none'/>
        <source type='unix' path='/run/v.sock'/><target dev='vda' bus='virtio'/></disk>`),
    );
    expect(e.code).toBe('CONFIG_UNSUPPORTED');
    expect(e.field).toBe('/domain/devices/disk[1]/driver/@cache');
  });

  const vhostScsi = (wwpn: string) =>
    `<hostdev mode='subsystem' type='scsi_host' model='virtio-transitional'><source protocol='vhost' wwpn='${wwpn}'/></hostdev>`;

  it('gives a vhost SCSI target as vhost-scsi with the host descriptor', () => {
    const paths = { ...basePaths, vhostScsiFd: () => 7 };
    const dev = JSON.parse(
      valuesOf(argvOf(vhostScsi('naa.5123456789abcde0'), paths), '-device').find((d) =>
        d.includes('vhost-scsi'),
      ) ?? '{}',
    );
    expect(dev).toMatchObject({
      driver: 'vhost-scsi-pci-transitional',
      wwpn: 'naa.5123456789abcde0',
      vhostfd: '7',
      id: 'hostdev0',
    });
  });

  it('refuses vhost-scsi without a descriptor, and a WWPN that is not naa.', () => {
    expect(refusal(() => argvOf(vhostScsi('naa.5123456789abcde0'))).code).toBe('CONFIG_UNSUPPORTED');
    const paths = { ...basePaths, vhostScsiFd: () => 7 };
    expect(refusal(() => argvOf(vhostScsi('naa.1,x'), paths)).field).toBe(
      '/domain/devices/hostdev[1]/source/@wwpn',
    );
  });
});

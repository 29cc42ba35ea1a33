/**
 * Hotplug through the remote driver (REMOTE_PROC_DOMAIN_ATTACH_DEVICE_FLAGS,
 * DETACH_DEVICE_FLAGS, UPDATE_DEVICE_FLAGS) on a private libvirtd: its QEMU
 * driver runs the guest; python3-libvirt on the same daemon reads back what
 * our calls did, and makes the same bad calls so the errors can be compared.
 * Also libvirt's test driver, which has none of these calls: NO_SUPPORT
 * from ours and from python3-libvirt, on the daemon and in process.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import { VirError } from '../../../src/errors.js';
import { type Daemon, PYTHON_LIBVIRT, qemuPeerMissing, startLibvirtd } from './libvirtd.js';

const SKIP = qemuPeerMissing();

/** Runs python3-libvirt on `uri`: `body` sees `d` (the domain `name`) and prints JSON. */
function py(uri: string, name: string, body: string): unknown {
  const script = `import json, sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
d = c.lookupByName(sys.argv[2])
def err(f):
    try:
        f()
        return None
    except libvirt.libvirtError as e:
        return e.get_error_code()
${body}`;
  return JSON.parse(
    execFileSync(PYTHON_LIBVIRT!, ['-c', script, uri, name], { encoding: 'utf8', timeout: 60_000 }),
  );
}

async function codeOf(p: Promise<unknown>): Promise<VirError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof VirError) return err;
    throw err;
  }
  throw new Error('expected a VirError');
}

describe.skipIf(SKIP !== '')(`hotplug through the remote driver${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  let daemon: Daemon;
  let uri: string;
  let conn: Connection;
  let dom: Domain;
  let imgDir: string;
  const img = () => join(imgDir, 'hot.img');

  beforeAll(async () => {
    daemon = await startLibvirtd();
    uri = `qemu+unix:///session?socket=${daemon.socket}`;
    conn = await connect(uri);
    // the daemon's QEMU runs as its own user: the image must be readable to it
    imgDir = mkdtempSync(join(tmpdir(), 'vk-hp-img-'));
    chmodSync(imgDir, 0o755);
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', img(), '8M']);
    chmodSync(img(), 0o666);
    const ports = [1, 2, 3]
      .map((i) => `<controller type='pci' index='${i}' model='pcie-root-port'/>`)
      .join('');
    dom = await conn.defineDomain(`<domain type='qemu'><name>vk-remote-hp</name><memory unit='MiB'>64</memory>
      <os><type arch='x86_64' machine='q35'>hvm</type></os>
      <devices>${ports}<graphics type='vnc' autoport='yes'/><memballoon model='none'/></devices></domain>`);
    await dom.start();
  }, 120_000);

  afterAll(async () => {
    await dom?.destroy().catch(() => {});
    await conn?.close();
    await daemon?.stop();
    if (imgDir) rmSync(imgDir, { recursive: true, force: true });
  });

  it('a disk attached live and config through the daemon is in its live and persistent XML', async () => {
    await dom.attachDevice(
      `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${img()}'/><target dev='vdb' bus='virtio'/></disk>`,
      { live: true, config: true },
    );
    const seen = py(
      uri,
      dom.name,
      `print(json.dumps([d.XMLDesc(0), d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)]))`,
    ) as string[];
    for (const xml of seen) expect(xml).toContain("<target dev='vdb' bus='virtio'/>");
  });

  it('a duplicate target and a missing device fail with the codes python3-libvirt gets', async () => {
    const dup = `<disk type='file' device='disk'><source file='${img()}'/><target dev='vdb' bus='virtio'/></disk>`;
    const gone = "<disk type='file' device='disk'><target dev='vdz' bus='virtio'/></disk>";
    const ref = py(
      uri,
      dom.name,
      `print(json.dumps([err(lambda: d.attachDeviceFlags(sys.argv[3], libvirt.VIR_DOMAIN_AFFECT_LIVE)),
                  err(lambda: d.detachDeviceFlags(sys.argv[4], libvirt.VIR_DOMAIN_AFFECT_LIVE))]))`
        .replace('sys.argv[3]', JSON.stringify(dup))
        .replace('sys.argv[4]', JSON.stringify(gone)),
    ) as number[];
    const ours = [
      await codeOf(dom.attachDevice(dup, { live: true })),
      await codeOf(dom.detachDevice(gone, { live: true })),
    ];
    expect(ref.every((c) => typeof c === 'number')).toBe(true);
    expect(ours.map((e) => e.libvirtCode)).toEqual(ref);
    // libvirt 9: VIR_ERR_XML_ERROR (the define-time duplicate check), VIR_ERR_DEVICE_MISSING
    expect(ours.map((e) => e.code)).toEqual(['XML_ERROR', 'DEVICE_MISSING']);
  });

  it('a config-only detach removes the disk from the persistent XML only', async () => {
    await dom.detachDevice("<disk type='file' device='disk'><target dev='vdb' bus='virtio'/></disk>", {
      config: true,
    });
    const [live, inactive] = py(
      uri,
      dom.name,
      `print(json.dumps([d.XMLDesc(0), d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)]))`,
    ) as string[];
    expect(live).toContain("dev='vdb'");
    expect(inactive).not.toContain("dev='vdb'");
  });

  it("libvirt's test driver has no device calls: NO_SUPPORT, on the daemon and in process, as python3-libvirt", async () => {
    const x =
      "<disk type='file' device='disk'><source file='/tmp/x.img'/><target dev='vdb' bus='virtio'/></disk>";
    const body =
      `print(json.dumps([err(lambda: d.attachDeviceFlags(X, 0)), err(lambda: d.detachDeviceFlags(X, 0)),
                  err(lambda: d.updateDeviceFlags(X, 0))]))`.replaceAll('X', JSON.stringify(x));
    const ref = py(daemon.unixUri, 'test', body) as number[];
    const inProcess = py('test:///default', 'test', body) as number[];
    // VIR_ERR_NO_SUPPORT
    expect(ref).toEqual([3, 3, 3]);
    expect(inProcess).toEqual([3, 3, 3]);
    for (const u of [daemon.unixUri, 'test:///default']) {
      const c = await connect(u);
      try {
        const d = await c.lookupDomain({ name: 'test' });
        for (const call of [() => d.attachDevice(x), () => d.detachDevice(x), () => d.updateDevice(x)])
          expect((await codeOf(call())).code).toBe('NO_SUPPORT');
      } finally {
        await c.close();
      }
    }
  });
});

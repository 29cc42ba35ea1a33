/**
 * Memory devices through the remote driver on a private libvirtd (its QEMU
 * driver runs a guest with no OS; libvirt's rules need none): a virtio-mem
 * device's `<requested>` changed by `updateDevice`, the refusals libvirt
 * gives with their numbers, and the `<memory>` total after a DIMM is
 * plugged, read back with python3-libvirt on the same daemon.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import { VirError } from '../../../src/errors.js';
import { type Daemon, PYTHON_LIBVIRT, qemuPeerMissing, startLibvirtd } from './libvirtd.js';

const SKIP = qemuPeerMissing();

/** The live XML as python3-libvirt reads it from the daemon. */
function liveXml(uri: string, name: string): string {
  return execFileSync(
    PYTHON_LIBVIRT!,
    [
      '-c',
      'import sys, libvirt\nprint(libvirt.open(sys.argv[1]).lookupByName(sys.argv[2]).XMLDesc(0))',
      uri,
      name,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
}

async function failure(p: Promise<unknown>): Promise<VirError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof VirError) return err;
    throw err;
  }
  throw new Error('expected a VirError');
}

const virtioMem = (xml: string) => /<memory model='virtio-mem'[\s\S]*?<\/memory>/.exec(xml)?.[0] ?? '';
const kib = (xml: string, el: string) =>
  Number(new RegExp(`<${el} unit='KiB'>(\\d+)</${el}>`).exec(xml)?.[1]);
const total = (xml: string) => kib(xml.replace(/<memory model[\s\S]*?<\/memory>/g, ''), 'memory');

describe.skipIf(SKIP !== '')(
  `memory devices through the remote driver${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    let daemon: Daemon;
    let uri: string;
    let conn: Connection;
    let dom: Domain;

    beforeAll(async () => {
      daemon = await startLibvirtd();
      uri = `qemu+unix:///session?socket=${daemon.socket}`;
      conn = await connect(uri);
      dom = await conn.defineDomain(`<domain type='qemu'><name>vk-remote-mem</name>
      <maxMemory slots='4' unit='MiB'>2048</maxMemory><memory unit='MiB'>256</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>
      <cpu><numa><cell id='0' cpus='0' memory='128' unit='MiB'/></numa></cpu>
      <devices>
        <controller type='pci' index='1' model='pcie-root-port'/><controller type='pci' index='2' model='pcie-root-port'/>
        <memory model='virtio-mem'><target><size unit='MiB'>128</size><node>0</node><block unit='MiB'>2</block><requested unit='MiB'>0</requested></target></memory>
        <memballoon model='none'/>
      </devices></domain>`);
      await dom.start();
    }, 120_000);

    afterAll(async () => {
      await dom?.destroy().catch(() => {});
      await dom?.undefine().catch(() => {});
      await conn?.close();
      await daemon?.stop();
    });

    it('updateDevice passes a virtio-mem resize to the daemon: its live <requested> changes', async () => {
      const dev = virtioMem(await dom.getXML());
      expect(dev).toContain("<alias name='virtiomem0'/>");
      await dom.updateDevice(dev.replace(/<requested unit='KiB'>\d+/, "<requested unit='KiB'>65536"));
      expect(kib(virtioMem(liveXml(uri, dom.name)), 'requested')).toBe(65536);
    });

    it("libvirt's refusals arrive with their codes: XML_DETAIL for sizes, CONFIG_UNSUPPORTED for other fields", async () => {
      const dev = virtioMem(await dom.getXML());
      const odd = await failure(
        dom.updateDevice(dev.replace(/<requested unit='KiB'>\d+/, "<requested unit='KiB'>3072")),
      );
      expect([odd.code, odd.libvirtCode]).toEqual(['XML_DETAIL', 35]);
      const size = await failure(
        dom.updateDevice(dev.replace(/<size unit='KiB'>\d+/, "<size unit='KiB'>262144")),
      );
      expect([size.code, size.libvirtCode]).toEqual(['CONFIG_UNSUPPORTED', 67]);
      expect(size.message).toContain("cannot modify memory size from '131072' to '262144'");
      const gone = await failure(dom.updateDevice(dev.replace('virtiomem0', 'virtiomem7')));
      expect(gone.code).toBe('CONFIG_UNSUPPORTED');
      expect(gone.message).toContain("memory 'virtiomem7' not found");
    });

    it('a DIMM plugged live grows the live <memory> total by its size; without a balloon the current size is the total', async () => {
      const before = liveXml(uri, dom.name);
      await dom.attachDevice(
        "<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>",
      );
      const after = liveXml(uri, dom.name);
      expect(total(after)).toBe(total(before) + 131072);
      expect(kib(after, 'currentMemory')).toBe(total(after));
      expect(await dom.getInfo()).toMatchObject({ maxMem: total(after), memory: total(after) });
    });
  },
);

/**
 * vCPUs, maximum memory and rename with real QEMU under TCG, on a small
 * diskless guest: vCPUs hot-plugged into the slots `query-hotpluggable-cpus`
 * lists (seen by QEMU's `query-cpus-fast` through `getInfo`), the config's
 * `<vcpu current>`, `<memory>` of the definition only, rename of an inactive
 * domain with libvirt's events; libvirt's refusals leave both definitions
 * as they were.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitForLength } from '../../wait-for.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu-lifecycle/helpers.js';
import { errorOf, eventHostsEachTest } from '../real-guest.js';

const hosts = eventHostsEachTest();
const host = () => hosts.host('vk-vcpu-');

let n = 0;
function guestXml(name: string, vcpu = '<vcpu>1</vcpu>'): string {
  n++;
  const uuid = `d4d4d4d4-0000-4000-8000-${String(process.pid * 100 + n).padStart(12, '0')}`;
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>32</memory>
  ${vcpu}
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices><emulator>${QEMU_BINARY}</emulator><memballoon model='none'/></devices>
</domain>`;
}

describe.skipIf(!HAS_QEMU)(`vCPUs, maximum memory and rename${QEMU_NOTE}`, () => {
  it("plugs vCPUs into a running guest and changes the next boot's count", async () => {
    const h = await host();
    const dom = await h.conn.defineDomain(guestXml('vk-vcpus', "<vcpu current='1'>3</vcpu>"));
    await dom.start();
    expect((await dom.getInfo()).nrVirtCpu).toBe(1);
    await dom.setVcpus(3);
    // QEMU's own count (query-cpus-fast) and the live XML say 3; the definition still 1.
    expect((await dom.getInfo()).nrVirtCpu).toBe(3);
    expect(await dom.getXML()).toMatch(/<vcpu[^>]*>3<\/vcpu>/);
    expect(await dom.getXML()).not.toContain("current='");
    expect(await dom.getXML({ inactive: true })).toContain("current='1'");
    // The status file (what another process re-attaching reads) has the plugged count too.
    const status = readFileSync(join(h.state, 'qemu', 'vk-vcpus.xml'), 'utf8');
    expect(status).toMatch(/<vcpu[^>]*>3<\/vcpu>/);
    expect(status).not.toContain("current='1'");
    // Above the maximum: libvirt's INVALID_ARG, nothing changes.
    const over = await errorOf(dom.setVcpus(4, { live: true, config: true }));
    expect(over.code).toBe('INVALID_ARG');
    expect(over.message).toContain('4 > 3');
    expect((await dom.getInfo()).nrVirtCpu).toBe(3);
    // A hot-plugged vCPU goes only when the guest lets it go; with no OS the machine is still in
    // legacy CPU hotplug mode, and QEMU refuses the unplug itself: its reason, the count unchanged.
    const stuck = await errorOf(dom.setVcpus(2, { live: true }));
    expect(stuck.code).toBe('OPERATION_FAILED');
    expect(stuck.message).toContain('unplug');
    expect((await dom.getInfo()).nrVirtCpu).toBe(3);
    await dom.setVcpus(2, { config: true });
    expect(await dom.getXML({ inactive: true })).toContain("current='2'");
    await dom.destroy();
    await dom.start();
    expect((await dom.getInfo()).nrVirtCpu).toBe(2);
    const unplug = await errorOf(dom.setVcpus(1, { live: true }));
    expect(unplug.code).toBe('CONFIG_UNSUPPORTED');
    // Inactive: the default is the definition; live is refused.
    await dom.destroy();
    await dom.setVcpus(3);
    expect(await dom.getXML({ inactive: true })).not.toContain("current='");
    expect((await errorOf(dom.setVcpus(1, { live: true }))).code).toBe('OPERATION_INVALID');
  }, 60_000);

  it('changes the maximum memory of the definition only', async () => {
    const h = await host();
    const dom = await h.conn.defineDomain(guestXml('vk-maxmem'));
    await dom.setMaxMemory(65536);
    expect(await dom.getXML({ inactive: true })).toContain("<memory unit='KiB'>65536</memory>");
    // A maximum under the current size brings the current size down with it (libvirt's rule).
    await dom.setMaxMemory(16384);
    const xml = await dom.getXML({ inactive: true });
    expect(xml).toContain("<memory unit='KiB'>16384</memory>");
    expect(xml).toContain("<currentMemory unit='KiB'>16384</currentMemory>");
    await dom.setMaxMemory(32768);
    await dom.start();
    const live = await errorOf(dom.setMaxMemory(65536));
    expect(live.code).toBe('OPERATION_INVALID');
    await dom.setMaxMemory(49152, { config: true });
    expect(await dom.getXML({ inactive: true })).toContain("<memory unit='KiB'>49152</memory>");
    expect((await dom.getInfo()).maxMem).toBe(32768);
    expect((await errorOf(dom.setMaxMemory(0))).code).toBe('INVALID_ARG');
  });

  it('keeps <memory dumpCore> through setVcpus and setMaxMemory (libvirt changes the size only)', async () => {
    const h = await host();
    const dom = await h.conn.defineDomain(
      guestXml('vk-dumpcore', "<vcpu current='1'>2</vcpu>").replace(
        "<memory unit='MiB'>32</memory>",
        "<memory unit='MiB' dumpCore='on'>32</memory>",
      ),
    );
    // libvirt formats the attribute before the unit: <memory dumpCore='on' unit='KiB'>
    expect(await dom.getXML({ inactive: true })).toContain("<memory dumpCore='on' unit='KiB'>32768</memory>");
    await dom.setVcpus(2, { config: true });
    const afterVcpus = await dom.getXML({ inactive: true });
    expect(afterVcpus).toContain("<memory dumpCore='on' unit='KiB'>32768</memory>");
    expect(afterVcpus).toMatch(/<vcpu[^>]*>2<\/vcpu>/);
    await dom.setMaxMemory(65536);
    expect(await dom.getXML({ inactive: true })).toContain("<memory dumpCore='on' unit='KiB'>65536</memory>");
    // and the running guest's live definition keeps it through a vCPU hot-plug
    await dom.setVcpus(1, { config: true });
    await dom.start();
    await dom.setVcpus(2, { live: true });
    expect(await dom.getXML()).toContain("<memory dumpCore='on' unit='KiB'>65536</memory>");
  }, 60_000);

  it("renames an inactive domain with libvirt's events and refusals", async () => {
    const h = await host();
    const dom = await h.conn.defineDomain(guestXml('vk-old'));
    await h.conn.defineDomain(guestXml('vk-other'));
    await dom.setAutostart(true);
    const taken = await errorOf(dom.rename('vk-other'));
    expect(taken.code).toBe('OPERATION_INVALID');
    expect((await errorOf(dom.rename('a/b'))).code).toBe('XML_ERROR');
    expect((await errorOf(dom.rename('vk-old'))).code).toBe('OPERATION_INVALID');
    await dom.rename('vk-new');
    expect(dom.name).toBe('vk-new');
    expect(await dom.getXML({ inactive: true })).toContain('<name>vk-new</name>');
    expect(await dom.getAutostart()).toBe(true);
    expect(existsSync(join(h.roots.path, 'config', 'qemu', 'vk-old.xml'))).toBe(false);
    expect((await h.conn.lookupDomain({ name: 'vk-new' })).uuid).toBe(dom.uuid);
    // the two defines' events, then the rename's
    expect((await waitForLength(h.events, 4)).slice(2)).toEqual(['undefined/renamed', 'defined/renamed']);
    // Running, or with a managed save image waiting: refused.
    await dom.start();
    expect((await errorOf(dom.rename('vk-3'))).code).toBe('OPERATION_INVALID');
    await dom.managedSave();
    const saved = await errorOf(dom.rename('vk-3'));
    expect(saved.code).toBe('OPERATION_INVALID');
    expect(saved.message).toContain('managed save');
    expect(dom.name).toBe('vk-new');
  });
});

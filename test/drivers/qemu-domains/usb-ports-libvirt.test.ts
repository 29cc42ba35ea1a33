/**
 * Differential: the USB ports libvirt's QEMU driver writes into a
 * definition at define (and keeps in the live XML at start), and the hubs
 * it adds when the devices outnumber the controller's ports, against a
 * private libvirtd 9.0 doing the same through virsh. Each case defines the
 * same XML on both sides and compares, device by device, every
 * `<address type='usb'>` and `<hub>` of the inactive XML; then starts both
 * and compares the live XML's, and checks QEMU put each device where the
 * XML says (`qom-get` of the device's `port`).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseXml } from '../../../src/xml/index.js';
import type { XmlElement } from '../../../src/xml/tree.js';
import { QEMU_BINARY } from '../qemu-lifecycle/helpers.js';
import { PEER_NOTE, PEER_READY, virtInstallPeer } from './virt-install-peer.js';

/** Devices per case, inside `<devices>` (a SPICE display for the redirected devices). */
const CASES: Record<string, string> = {
  // two root ports, three devices: a hub on port 1, the rest behind it
  'uhci-needs-hub': `<controller type='usb' model='piix3-uhci'/>
    <input type='tablet' bus='usb'/><input type='keyboard' bus='usb'/>
    <redirdev bus='usb' type='spicevmc'/>`,
  // the user's own hub and a device that names its port
  'user-hub-and-address': `<controller type='usb' model='piix3-uhci'/>
    <hub type='usb'/>
    <input type='tablet' bus='usb'><address type='usb' bus='0' port='2'/></input>
    <input type='keyboard' bus='usb'/><input type='mouse' bus='usb'/>`,
  // an xHCI controller with ports to spare, devices of several kinds in libvirt's walk order
  'xhci-kinds': `<controller type='usb' model='qemu-xhci' ports='8'/>
    <input type='tablet' bus='usb'/>
    <sound model='usb'/>
    <redirdev bus='usb' type='spicevmc'/><redirdev bus='usb' type='spicevmc'/>
    <serial type='pty'><target type='usb-serial'><model name='usb-serial'/></target></serial>`,
  // two controllers: devices fill bus 0 first; one asks for bus 1
  'two-buses': `<controller type='usb' index='0' model='piix3-uhci'/>
    <controller type='usb' index='1' model='piix3-uhci'/>
    <input type='tablet' bus='usb'/><input type='keyboard' bus='usb'/>
    <input type='mouse' bus='usb'><address type='usb' bus='1'/></input>`,
};

const guestXml = (name: string, devices: string) => `<domain type='qemu'><name>${name}</name>
  <memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>${devices}
    <graphics type='spice' autoport='yes'/><memballoon model='none'/></devices></domain>`;

const elements = (el: XmlElement | undefined): XmlElement[] =>
  (el?.children ?? []).filter((c): c is XmlElement => c.type === 'element');
const attr = (el: XmlElement | undefined, name: string) => el?.attrs.find((a) => a.name === name)?.value;

/** `element[n] alias? -> bus.port` for every device on USB, and the hub count. */
function usbPorts(xml: string): { ports: Record<string, string>; aliases: Record<string, string> } {
  const devices = elements(parseXml(xml)).find((c) => c.name === 'devices');
  const ports: Record<string, string> = {};
  const aliases: Record<string, string> = {};
  const seen = new Map<string, number>();
  for (const d of elements(devices)) {
    const n = seen.get(d.name) ?? 0;
    seen.set(d.name, n + 1);
    const a = elements(d).find((c) => c.name === 'address' && attr(c, 'type') === 'usb');
    if (!a) continue;
    ports[`${d.name}[${n}]`] = `${attr(a, 'bus')}.${attr(a, 'port')}`;
    const alias = attr(
      elements(d).find((c) => c.name === 'alias'),
      'name',
    );
    if (alias) aliases[alias] = attr(a, 'port') ?? '';
  }
  return { ports, aliases };
}

describe.skipIf(!PEER_READY)(
  `USB ports written at define and start against libvirt 9.0's${PEER_NOTE}`,
  () => {
    // the virt-install differentials' daemon and connection (the corpus files go unused here)
    const peer = virtInstallPeer({ prefix: 'vk-usbports-' });

    for (const [name, devices] of Object.entries(CASES)) {
      it(`${name}: the same ports and hubs in the definition and the live XML; QEMU's ports are those`, async () => {
        const domName = `vk-usb-${name}`;
        const xml = guestXml(domName, devices);
        const file = join(peer.work, `${name}.xml`);
        writeFileSync(file, xml);
        chmodSync(file, 0o644);
        const uri = `qemu+unix:///session?socket=${peer.daemon.socket}`;
        const virsh = (...args: string[]) => spawnSync('virsh', ['-c', uri, ...args], { encoding: 'utf8' });
        const defined = virsh('define', file);
        expect(defined.status, defined.stderr).toBe(0);
        const theirsInactive = virsh('dumpxml', '--inactive', domName).stdout;
        const started = virsh('start', domName);
        expect(started.status, started.stderr).toBe(0);
        const theirsLive = virsh('dumpxml', domName).stdout;
        virsh('destroy', domName);
        virsh('undefine', domName);

        const dom = await peer.conn.defineDomain(xml);
        try {
          const inactive = usbPorts(await dom.getXML({ inactive: true }));
          expect(Object.keys(inactive.ports).length).toBeGreaterThan(2);
          expect(inactive.ports).toEqual(usbPorts(theirsInactive).ports);
          await dom.start();
          const live = usbPorts(await dom.getXML());
          expect(live).toEqual(usbPorts(theirsLive));
          // where QEMU has each device is where the XML says
          for (const [alias, port] of Object.entries(live.aliases)) {
            const reply = (await dom.qemuMonitorCommand({
              execute: 'qom-get',
              arguments: { path: `/machine/peripheral/${alias}`, property: 'port' },
            })) as { return: string };
            expect(reply.return, alias).toBe(port);
          }
        } finally {
          await dom.destroy().catch(() => {});
          await dom.undefine();
        }
      }, 60_000);
    }
  },
);

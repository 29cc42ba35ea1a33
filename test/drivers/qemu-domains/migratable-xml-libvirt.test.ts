/**
 * Differential: `getXML({ migratable: true })` of the virt-install guests
 * against libvirt 9.0's `virsh dumpxml --migratable` on a private libvirtd
 * (its QEMU driver, the same XML, the same host QEMU): the whole document,
 * defined (`--inactive --migratable`) and running. The running form is the
 * live definition without what the run chose (id, aliases, pty paths,
 * automatic ports, the made-up channel sockets), with the CPU the
 * definition asked for rather than QEMU's (`check='none'`, no added
 * features), without the defaults old libvirt adds itself (i440fx's
 * pci-root, the PS/2 keyboard, the default audio backend).
 *
 * What libvirt 11.3, whose rules we follow, writes differently from 9.0 is
 * taken out on both sides: q35's built-in iTCO watchdog (11.3 adds it to the
 * definition) and, for the UEFI guest, `<os>` (11.3 keeps `firmware='efi'`
 * with the firmware's features and already turns on the SMM secure boot
 * needs; 9.0 resolves it to the loader's files, and SMM, at start).
 *
 * Small definitions, defined on both sides, check each rule of the form on
 * its own: which USB controller and pci-root are the defaults left out (by
 * machine, model, user alias, count, pcihole64), which audio backend is the
 * default, the PS/2 keyboard, and the `pconfig` an Icelake-Server CPU disables.
 *
 * The remote driver, on the same daemon, gives libvirt's own documents
 * (VIR_DOMAIN_XML_MIGRATABLE goes through).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import { PEER_NOTE, PEER_READY, startableGuests, virtInstallPeer } from './virt-install-peer.js';

const GUESTS = startableGuests();

/** A document without what 11.3 and 9.0 write differently (see the file's comment). */
function comparable(xml: string): string {
  return xml
    .replace(/ *<watchdog model='itco' action='reset'\/>\n/, '')
    .replace(/<os( firmware='efi')?>[\s\S]*?<\/os>/, '<os/>')
    .replace(/ *<smm state='on'\/>\n/, '')
    .trimEnd();
}

/** Small definitions for each rule of the migratable form, defined on both sides (not started). */
const RULES: Record<string, string> = {
  'i440fx, the default USB controller': "<controller type='usb' index='0'/>",
  'i440fx, a piix3-uhci USB controller': "<controller type='usb' index='0' model='piix3-uhci'/>",
  'i440fx, a USB controller with a user alias':
    "<controller type='usb' index='0'><alias name='ua-usb'/></controller>",
  'i440fx, two USB controllers':
    "<controller type='usb' index='0'/><controller type='usb' index='1' model='ich9-ehci1'/>",
  'i440fx, an xHCI controller': "<controller type='usb' index='0' model='qemu-xhci'/>",
  'q35, the default USB controller': "<controller type='usb' index='0' model='piix3-uhci'/>",
  'a pci-root with a pcihole64':
    "<controller type='pci' index='0' model='pci-root'><pcihole64 unit='KiB'>1048576</pcihole64></controller>",
  'a pci-root and a pci-bridge':
    "<controller type='pci' index='0' model='pci-root'/><controller type='pci' index='1' model='pci-bridge'/>",
  'a VNC display and its audio': "<graphics type='vnc'/>",
  'an audio of the user': "<audio id='1' type='none'><input mixingEngine='no'/></audio>",
  'two audio backends': "<audio id='1' type='none'/><audio id='2' type='none'/>",
  'a USB keyboard and the PS/2 one': "<input type='keyboard' bus='usb'/>",
  'an Icelake-Server CPU': '',
};

const ruleGuest = (title: string, i: number, devices: string) => {
  const q35 = title.startsWith('q35');
  const cpu =
    title === 'an Icelake-Server CPU'
      ? "<cpu mode='custom' match='exact' check='none'><model fallback='allow'>Icelake-Server</model></cpu>"
      : '';
  return (
    `<domain type='qemu'><name>vk-mig-rule-${i}</name>` +
    `<uuid>5b0c1f0e-8a7d-4c1e-9a55-${String(i).padStart(12, '0')}</uuid><memory>65536</memory>` +
    `<os><type arch='x86_64' machine='${q35 ? 'q35' : 'pc'}'>hvm</type></os>${cpu}` +
    `<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>${devices}</devices></domain>`
  );
};

describe.skipIf(!PEER_READY)(`virt-install guests: migratable XML against libvirt 9.0's${PEER_NOTE}`, () => {
  // the guests' images of our own: this file starts them
  const peer = virtInstallPeer({ prefix: 'vk-mig-', ownImages: true });

  for (const [i, [title, devices]] of Object.entries(RULES).entries()) {
    it(`${title}: the defined guest's migratable XML is libvirt's`, async () => {
      const xml = ruleGuest(title, i, devices);
      const file = join(peer.work, `rule-${i}.xml`);
      writeFileSync(file, xml);
      const virsh = peer.virsh;
      virsh('define', file);
      const theirs = virsh('dumpxml', '--inactive', '--migratable', `vk-mig-rule-${i}`);
      virsh('undefine', `vk-mig-rule-${i}`);
      const dom = await peer.conn.defineDomain(xml);
      try {
        expect(comparable(await dom.getXML({ migratable: true }))).toBe(comparable(theirs));
      } finally {
        await dom.undefine();
      }
    });
  }

  for (const name of GUESTS) {
    it(`${name}: the migratable XML, defined and running, is libvirt's`, async (ctx) => {
      const g = peer.guest(name);
      if ('missing' in g) return ctx.skip(`the host lacks ${g.missing}`);
      const { xml, file, domName } = g;
      const virsh = peer.virsh;
      virsh('define', file);
      const theirsDefined = virsh('dumpxml', '--inactive', '--migratable', domName);
      virsh('start', domName);
      const theirsRunning = virsh('dumpxml', '--migratable', domName);
      const remote = await connect(`qemu+unix:///session?socket=${peer.daemon.socket}`);
      try {
        const rd = await remote.lookupDomain(domName);
        expect(await rd.getXML({ migratable: true })).toBe(`${theirsRunning.trimEnd()}\n`);
        expect(await rd.getXML({ migratable: true, inactive: true })).toBe(`${theirsDefined.trimEnd()}\n`);
      } finally {
        await remote.close();
        virsh('destroy', domName);
        virsh('undefine', '--nvram', domName);
      }

      const dom = await peer.conn.defineDomain(xml);
      try {
        expect(comparable(await dom.getXML({ migratable: true }))).toBe(comparable(theirsDefined));
        await dom.start();
        const running = await dom.getXML({ migratable: true });
        expect(comparable(running)).toBe(comparable(theirsRunning));
        // the persistent definition, asked for while it runs, is the defined one
        expect(comparable(await dom.getXML({ migratable: true, inactive: true }))).toBe(
          comparable(theirsDefined),
        );
        // the live XML still has what the migratable one leaves out
        expect(await dom.getXML()).toMatch(/<domain type='qemu' id='\d+'>/);
      } finally {
        await dom.destroy().catch(() => {});
        await dom.undefine().catch(() => {});
      }
    }, 90_000);
  }
});

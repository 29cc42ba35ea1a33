/**
 * Differential: the `<alias>` of every device in a running guest's live XML
 * against libvirt 9.0's, for the virt-install guests that start here (a
 * private libvirtd's QEMU driver through virsh, and virtkit, each running
 * the same XML with the host's QEMU). A device is keyed by its element and
 * place among its kind (a controller by type and index, as libvirt 9.0
 * lists two start-time controllers in another order). libvirt 11.3, whose
 * rules we follow, adds q35's built-in iTCO watchdog to the definition;
 * 9.0 does not, so that one is left out of the comparison.
 *
 * The displays are compared too: the address a listen without one
 * listens on is in the live XML, as libvirt writes it. So are the channels:
 * the socket made up for one without a path, and its port's state.
 *
 * The aliases are also QEMU's: each one of a device QEMU was given with
 * `-device` (all but the machine's own buses, IDE/SATA controller, PS/2
 * inputs and q35's iTCO watchdog) is a device id under `/machine/peripheral`.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseXml, serializeXml } from '../../../src/xml/index.js';
import type { XmlElement } from '../../../src/xml/tree.js';
import { PEER_NOTE, PEER_READY, startableGuests, virtInstallPeer } from './virt-install-peer.js';

const GUESTS = startableGuests();

const elements = (el: XmlElement | undefined): XmlElement[] =>
  (el?.children ?? []).filter((c): c is XmlElement => c.type === 'element');
const attr = (el: XmlElement | undefined, name: string) => el?.attrs.find((a) => a.name === name)?.value;

/** Each device of a live XML by a stable key, with its alias ('-' for none). */
function aliases(xml: string): Map<string, string> {
  const devices = elements(parseXml(xml)).find((c) => c.name === 'devices');
  const out = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const d of elements(devices)) {
    if (d.name === 'watchdog' && attr(d, 'model') === 'itco') continue;
    const n = seen.get(d.name) ?? 0;
    seen.set(d.name, n + 1);
    const key =
      d.name === 'controller' ? `controller ${attr(d, 'type')} ${attr(d, 'index')}` : `${d.name}[${n}]`;
    out.set(
      key,
      attr(
        elements(d).find((c) => c.name === 'alias'),
        'name',
      ) ?? '-',
    );
  }
  return out;
}

/** The displays of a live XML, their automatic ports (which depend on what else runs) as `N`. */
function displays(xml: string): string[] {
  const devices = elements(parseXml(xml)).find((c) => c.name === 'devices');
  return elements(devices)
    .filter((d) => d.name === 'graphics')
    .map((d) => serializeXml(d).replace(/ (port|tlsPort|websocket)='\d+'/g, " $1='N'"));
}

/**
 * The channels of a live XML. A socket libvirt made up for one is in the run's
 * directory, which the two sides keep in different roots; what is compared
 * is that it is named after the run (`domain-<id>-<name>`) and the target.
 */
function channels(xml: string): string[] {
  const devices = elements(parseXml(xml)).find((c) => c.name === 'devices');
  return elements(devices)
    .filter((d) => d.name === 'channel')
    .map((d) => serializeXml(d).replace(/ path='[^']*\/(domain-\d+-[^/']+\/[^/']+)'/, " path='RUN/$1'"));
}

/** The aliases of devices QEMU got as `-device` (not the machine's own buses, disk controller and PS/2 inputs). */
function pluggedAliases(xml: string): string[] {
  const devices = elements(parseXml(xml)).find((c) => c.name === 'devices');
  const out: string[] = [];
  for (const d of elements(devices)) {
    const alias = attr(
      elements(d).find((c) => c.name === 'alias'),
      'name',
    );
    if (alias === undefined || ['pci.0', 'pcie.0', 'ide'].includes(alias)) continue;
    if (d.name === 'input' && attr(d, 'bus') === 'ps2') continue;
    // q35's iTCO watchdog is part of its ICH9 chipset
    if (d.name === 'watchdog' && attr(d, 'model') === 'itco') continue;
    // character devices are chardevs; a serial port's console shares its alias
    if (['serial', 'console', 'channel', 'parallel'].includes(d.name)) continue;
    out.push(alias);
  }
  return out;
}

describe.skipIf(!PEER_READY)(
  `virt-install guests: live aliases, displays and channels against libvirt 9.0's${PEER_NOTE}`,
  () => {
    // the guests' images of our own: this file starts them
    const peer = virtInstallPeer({ prefix: 'vk-alias-', ownImages: true });

    for (const name of GUESTS) {
      it(`${name}: every device's alias is libvirt's and QEMU's id; the displays and channels are libvirt's`, async (ctx) => {
        const g = peer.guest(name);
        if ('missing' in g) return ctx.skip(`the host lacks ${g.missing}`);
        const { xml, file, domName } = g;
        const uri = `qemu+unix:///session?socket=${peer.daemon.socket}`;
        const virsh = (...args: string[]) => spawnSync('virsh', ['-c', uri, ...args], { encoding: 'utf8' });
        const created = virsh('create', file);
        expect(created.status, created.stderr).toBe(0);
        const theirs = virsh('dumpxml', domName).stdout;
        expect(virsh('destroy', domName).status).toBe(0);
        const dom = await peer.conn.createDomain(xml);
        try {
          const ours = await dom.getXML();
          expect(Object.fromEntries(aliases(ours))).toEqual(Object.fromEntries(aliases(theirs)));
          // a display's listen address is the one it listens on (qemu.conf's default: this host)
          expect(displays(ours)).toEqual(displays(theirs));
          // a unix channel without a path listens in the run directory; its port is closed (no agent runs)
          expect(channels(ours)).toEqual(channels(theirs));
          const reply = (await dom.qemuMonitorCommand({
            execute: 'qom-list',
            arguments: { path: '/machine/peripheral' },
          })) as { return: Array<{ name: string }> };
          const ids = new Set(reply.return.map((p) => p.name));
          const plugged = pluggedAliases(ours);
          expect(plugged.length).toBeGreaterThan(3);
          expect(plugged.filter((a) => !ids.has(a))).toEqual([]);
        } finally {
          await dom.destroy();
        }
      }, 60_000);
    }
  },
);

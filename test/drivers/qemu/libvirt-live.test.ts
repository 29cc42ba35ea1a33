import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DomainCapabilities } from '../../../src/conf/domaincaps.js';
import {
  buildDomainCapabilities,
  type DomainCapsHostFacts,
} from '../../../src/drivers/qemu/caps/domain-caps-builder.js';
import {
  firmwareDirs,
  readFirmware,
  tpmEmulatorVersions,
} from '../../../src/drivers/qemu/caps/host-facts.js';
import { probeQemu } from '../../../src/drivers/qemu/probe/probe.js';
import type { QemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { xmlDiff } from '../../../src/xml/equal.js';
import { parseXml } from '../../../src/xml/parse.js';
import type { XmlElement } from '../../../src/xml/tree.js';
import { QEMU_BINARY } from './helpers.js';
import { CAN_RUN_LIBVIRT_SESSION, withLibvirtSession } from './libvirt-session.js';

const LIBVIRT_MAP = '/usr/share/libvirt/cpu_map';
const CAN_ASK_LIBVIRT = CAN_RUN_LIBVIRT_SESSION && existsSync(LIBVIRT_MAP);

function virshAsNobody(args: string[]): string {
  return withLibvirtSession((virsh) => virsh(args));
}

describe.skipIf(!CAN_ASK_LIBVIRT)(
  `domain capabilities against the installed libvirt (TCG)${CAN_ASK_LIBVIRT ? '' : ' (skipped: needs root, virsh, libvirtd, setpriv and QEMU)'}`,
  () => {
    let theirs = '';
    let caps: QemuCaps;
    // what libvirt sees on this host (Debian's ovmf installs firmware descriptors, swtpm a TPM
    // emulator): the daemon runs with an empty home, so only the system descriptor folders count
    let host: DomainCapsHostFacts = {};
    beforeAll(async () => {
      host = {
        firmware: await readFirmware(firmwareDirs('system')),
        tpmEmulatorVersions: await tpmEmulatorVersions(),
      };
      theirs = virshAsNobody([
        'domcapabilities',
        '--virttype',
        'qemu',
        '--arch',
        'x86_64',
        '--emulatorbin',
        QEMU_BINARY,
      ]);
      const run = mkdtempSync(join(tmpdir(), 'vk-probe-'));
      try {
        caps = await probeQemu(QEMU_BINARY, { kvm: false, runDir: run });
      } finally {
        rmSync(run, { recursive: true, force: true });
      }
    }, 90_000);

    it('the sections both libvirt versions format alike are equal', () => {
      const ours = parseXml(buildDomainCapabilities(caps, { virttype: 'qemu' }, host).toXML());
      const lv = parseXml(theirs);
      const pickEl = (root: XmlElement, path: string[]): XmlElement | undefined => {
        let el: XmlElement | undefined = root;
        for (const name of path) {
          el = el?.children.find((c): c is XmlElement => c.type === 'element' && c.name === name);
        }
        return el;
      };
      const stable = [
        ['path'],
        ['domain'],
        ['machine'],
        ['arch'],
        ['vcpu'],
        ['iothreads'],
        ['os'],
        ['memoryBacking'],
        ['devices', 'disk'],
        ['devices', 'video'],
        ['devices', 'rng'],
        ['devices', 'filesystem'],
        ['devices', 'redirdev'],
        ['devices', 'channel'],
        ['features', 'gic'],
        ['features', 'vmcoreinfo'],
        ['features', 'genid'],
        ['features', 'backingStoreInput'],
        ['features', 'backup'],
        ['features', 'sev'],
        ['features', 'sgx'],
      ];
      for (const path of stable) {
        const a = pickEl(ours, path);
        const b = pickEl(lv, path);
        expect(a, path.join('/')).toBeDefined();
        expect(b, path.join('/')).toBeDefined();
        expect(xmlDiff(a as XmlElement, b as XmlElement), path.join('/')).toBeUndefined();
      }
      // and the custom CPU models: same names and usability (libvirt 9 kept QEMU's order and wrote no blockers)
      const strip = (xml: string) =>
        (DomainCapabilities.fromXML(xml).cpuMode('custom')?.models ?? [])
          .map((m) => ({ name: m.name, usable: m.usable }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const catalogued = buildDomainCapabilities(caps, { virttype: 'qemu' }, host);
      const names = new Set(strip(theirs).map((m) => m.name));
      expect(strip(catalogued.toXML()).filter((m) => names.has(m.name))).toEqual(strip(theirs));
    });
  },
);

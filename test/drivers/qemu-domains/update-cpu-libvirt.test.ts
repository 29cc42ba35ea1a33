/**
 * Differential: `getXML({ updateCpu: true })` on the QEMU driver against
 * libvirt 9.0's `virsh dumpxml --update-cpu` on a private libvirtd, for
 * guests with each CPU mode and match (the same XML, the same host QEMU,
 * TCG): the `<cpu>` element each side writes. A host-model CPU and a
 * `minimum` match become the host-model CPU of QEMU's expansion (its
 * migratable form) with the guest's policies on top; an `exact` model and
 * `host-passthrough` stay as they are. The rest of the document is the
 * plain one; with `migratable` the update applies to that form.
 *
 * libvirt 11.3, whose CPU map we follow, lists the features of a CPUID leaf
 * in another order than 9.0 (`monitor` and `hypervisor`, of leaf 1's ECX,
 * before `acpi` and `ss`, of its EDX; see the domaincaps conformance data),
 * so the features are compared as a set, the rest of the element exactly.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PEER_NOTE, PEER_READY, virtInstallPeer } from './virt-install-peer.js';

const CPUS: Record<string, string> = {
  'host-model': "<cpu mode='host-model'/>",
  'host-model with features':
    "<cpu mode='host-model'><feature policy='disable' name='vme'/><feature policy='require' name='pcid'/></cpu>",
  'minimum qemu64': "<cpu mode='custom' match='minimum'><model>qemu64</model></cpu>",
  'minimum with a disabled feature':
    "<cpu mode='custom' match='minimum'><model>Nehalem</model><feature policy='disable' name='sse4.2'/></cpu>",
  'exact with a feature':
    "<cpu mode='custom' match='exact'><model>qemu64</model><feature policy='require' name='pcid'/></cpu>",
  'exact with an optional feature':
    "<cpu mode='custom' match='exact'><model>qemu64</model><feature policy='optional' name='pcid'/><feature policy='optional' name='svm'/></cpu>",
  'host-passthrough': "<cpu mode='host-passthrough'/>",
};

const guest = (name: string, cpu: string) =>
  `<domain type='qemu'><name>${name}</name><memory>65536</memory>` +
  `<os><type arch='x86_64' machine='pc'>hvm</type></os>${cpu}` +
  '<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>';

/** A `<cpu>` with its `<feature>` lines sorted (see the file's comment). */
const featureSet = (cpu: string) => {
  const lines = cpu.split('\n');
  const features = lines.filter((l) => l.includes('<feature ')).sort();
  return [...lines.filter((l) => !l.includes('<feature ')), ...features].join('\n');
};

const cpuOf = (xml: string) => /\n {2}<cpu(?:[^>]*\/>|[^>]*>[\s\S]*?<\/cpu>)\n/.exec(xml)?.[0] ?? '';

describe.skipIf(!PEER_READY)(
  `getXML({ updateCpu }) against libvirt 9.0's dumpxml --update-cpu${PEER_NOTE}`,
  () => {
    const peer = virtInstallPeer({ prefix: 'vk-ucpu-' });

    for (const [i, [title, cpu]] of Object.entries(CPUS).entries()) {
      it(`${title}: the updated <cpu> is libvirt's`, async () => {
        const name = `vk-ucpu-${i}`;
        const xml = guest(name, cpu);
        const file = join(peer.work, `${name}.xml`);
        writeFileSync(file, xml);
        const virsh = peer.virsh;
        virsh('define', file);
        const theirs = virsh('dumpxml', '--update-cpu', name);
        const theirsMig = virsh('dumpxml', '--update-cpu', '--migratable', name);
        virsh('undefine', name);
        const dom = await peer.conn.defineDomain(xml);
        try {
          const ours = await dom.getXML({ updateCpu: true });
          expect(cpuOf(ours)).not.toBe('');
          expect(featureSet(cpuOf(ours))).toBe(featureSet(cpuOf(theirs)));
          // only the CPU changes
          expect(ours.replace(cpuOf(ours), '')).toBe(
            (await dom.getXML()).replace(cpuOf(await dom.getXML()), ''),
          );
          expect(featureSet(cpuOf(await dom.getXML({ updateCpu: true, migratable: true })))).toBe(
            featureSet(cpuOf(theirsMig)),
          );
        } finally {
          await dom.undefine();
        }
      }, 60_000);
    }
  },
);

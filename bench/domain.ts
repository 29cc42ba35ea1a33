/**
 * Domain XML benchmarks: parse, format and validate of a small (the
 * web-server fixture) and a large (50 devices) domain, each beside its
 * peer: xmllint --relaxng for validation, and libvirt itself
 * (python3-libvirt: defineXML + XMLDesc + undefine on test:///default)
 * for the whole parse + format cycle.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DomainDef } from '../src/conf/domain/domain-def.js';
import { validate } from '../src/xml/validate.js';
import { type BenchRow, measure, pythonMedianUs, row, xmllintUs } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

/** A guest with 50 devices: 16 disks, 12 NICs, 8 channels, 6 serials, 4 inputs, 4 others. */
export function largeDomainXml(): string {
  const dev: string[] = ['<emulator>/usr/bin/qemu-system-x86_64</emulator>'];
  for (let i = 0; i < 16; i++) {
    const t = `vd${String.fromCharCode(97 + i)}`;
    dev.push(
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/big-${t}.qcow2'/><target dev='${t}' bus='virtio'/></disk>`,
    );
  }
  for (let i = 0; i < 12; i++) {
    const mac = `52:54:00:10:00:${i.toString(16).padStart(2, '0')}`;
    dev.push(
      `<interface type='network'><mac address='${mac}'/><source network='default'/><model type='virtio'/></interface>`,
    );
  }
  for (let i = 0; i < 8; i++)
    dev.push(
      `<channel type='unix'><source mode='bind' path='/run/big/ch${i}.sock'/><target type='virtio' name='org.example.ch${i}'/></channel>`,
    );
  for (let i = 0; i < 6; i++) dev.push(`<serial type='pty'><target port='${i}'/></serial>`);
  dev.push(
    "<input type='tablet' bus='usb'/>",
    "<input type='keyboard' bus='usb'/>",
    "<input type='mouse' bus='ps2'/>",
    "<input type='keyboard' bus='ps2'/>",
  );
  dev.push(
    "<graphics type='vnc' autoport='yes'/>",
    "<video><model type='vga' vram='16384' heads='1'/></video>",
  );
  dev.push(
    "<memballoon model='virtio'/>",
    "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
  );
  return `<domain type='kvm'>
  <name>big</name>
  <uuid>3e3fce45-4f53-4fa7-bb32-11f34168b82b</uuid>
  <memory unit='GiB'>16</memory>
  <vcpu placement='static'>8</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/><apic/></features>
  <devices>
    ${dev.join('\n    ')}
  </devices>
</domain>
`;
}

export async function run(): Promise<BenchRow[]> {
  const small = readFileSync(join(here, '../fixtures/domain/web-server.xml'), 'utf8');
  const large = largeDomainXml();
  const rows: BenchRow[] = [];
  await validate(small, 'domain'); // compile the schema once, as a long-lived process would
  for (const [label, xml] of [
    ['small', small],
    ['large (50 devices)', large],
  ] as const) {
    const def = DomainDef.fromXML(xml);
    const formatted = def.toXML();
    rows.push(row(`domain parse, ${label}`, await measure(() => DomainDef.fromXML(xml))));
    rows.push(row(`domain format, ${label}`, await measure(() => def.toXML())));
    rows.push(
      row(`domain validate (RelaxNG), ${label}`, await measure(() => validate(formatted, 'domain')), {
        name: 'xmllint --relaxng',
        us: xmllintUs(formatted, 'domain.rng'),
      }),
    );
    const libvirt = pythonMedianUs(
      `c = libvirt.open('test:///default')\nxml = ${JSON.stringify(xml)}`,
      'd = c.defineXML(xml)\nd.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)\nd.undefine()',
      500,
    );
    const peer = { name: 'python3-libvirt defineXML+XMLDesc+undefine', us: libvirt };
    // libvirt does not validate against its schema on define, so this is the like-for-like row.
    rows.push(
      row(`domain parse + format, ${label}`, await measure(() => DomainDef.fromXML(xml).toXML()), peer),
    );
    rows.push(
      row(
        `domain parse + format + validate, ${label}`,
        await measure(async () => {
          const out = DomainDef.fromXML(xml).toXML();
          await validate(out, 'domain');
        }),
        peer,
      ),
    );
  }
  return rows;
}

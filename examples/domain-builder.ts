/**
 * Building and editing a domain definition in code: create a guest, add a
 * disk and a NIC, change its memory, check it against libvirt's rules and
 * our schema, then read back a document written by another tool and
 * change it without losing what virtkit does not model.
 *
 *   npx tsx examples/domain-builder.ts
 */
import { DomainDef, VirError, validate } from '../src/index.js';

const def = new DomainDef({
  type: 'kvm',
  name: 'builder-demo',
  memory: { value: 2, unit: 'GiB' },
  vcpu: { count: 2 },
  os: { type: { arch: 'x86_64', machine: 'q35', value: 'hvm' } },
  features: { acpi: {}, apic: {} },
  devices: {
    emulator: '/usr/bin/qemu-system-x86_64',
    disks: [
      {
        type: 'file',
        device: 'disk',
        driver: { name: 'qemu', type: 'qcow2' },
        source: { file: '/var/lib/libvirt/images/builder-demo.qcow2' },
        target: { dev: 'vda', bus: 'virtio' },
      },
    ],
    interfaces: [{ type: 'network', source: { network: 'default' }, model: { type: 'virtio' } }],
    graphics: [{ type: 'vnc' }],
  },
});

// libvirt's defaults: UUID, current memory, placement, boot device, clock, MAC, VNC listen...
def.normalize();

// Edit like any object; check() re-runs the parse-time rules.
def.devices?.disks?.push({
  type: 'file',
  device: 'cdrom',
  source: { file: '/srv/iso/installer.iso' },
  target: { dev: 'sda', bus: 'sata' },
  readonly: {},
});
def.memory = { value: 4194304, unit: 'KiB' };
def.check();

const xml = def.toXML();
const schema = await validate(xml, 'domain');
console.log(xml);
console.log(
  `schema: ${schema.valid ? 'valid' : schema.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`,
);

// A document from another tool, with an element virtkit does not know.
const foreign = `<domain type='kvm' xmlns:acme='https://acme.example/ns/1'>
  <name>imported</name>
  <memory unit='MiB'>1024</memory>
  <os><type arch='x86_64'>hvm</type></os>
  <acme:placement rack='r12'/>
  <devices><interface type='bridge'><source bridge='br0'/><acme:qos tier='gold'/></interface></devices>
</domain>`;
const imported = DomainDef.fromXML(foreign);
imported.vcpu = { count: 4 };
console.log(imported.toXML());

// Bad input is a VirError naming the field and line.
try {
  DomainDef.fromXML(
    "<domain type='kvm'>\n  <name>bad</name>\n  <memory unit='parsecs'>1</memory>\n</domain>",
  );
} catch (err) {
  if (err instanceof VirError)
    console.log(`refused: ${err.code} ${err.field ?? ''} line ${err.line ?? '?'}: ${err.message}`);
  else throw err;
}

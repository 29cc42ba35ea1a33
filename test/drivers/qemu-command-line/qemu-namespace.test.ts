/**
 * libvirt's `<qemu:commandline>` pass-through: arguments as given before
 * `-sandbox`, `<qemu:env>` after the builder's own environment, and only for
 * elements whose prefix is bound to the QEMU namespace URI.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { fixtureCaps } from './caps-fixture.js';

const paths = { domainDir: '/var/lib/x', monitor: { path: '/var/lib/x/monitor.sock' } };

function domain(prefix: string, uri: string): DomainDef {
  return DomainDef.fromXML(`<domain type='qemu' xmlns:${prefix}='${uri}'>
  <name>ns</name>
  <memory unit='KiB'>65536</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <${prefix}:commandline>
    <${prefix}:arg value='-device'/>
    <${prefix}:arg value='isa-debugcon,iobase=0x402,chardev=x y'/>
    <${prefix}:env name='NS' value='a b'/>
    <${prefix}:env name='EMPTY'/>
  </${prefix}:commandline>
</domain>`);
}

describe('<qemu:commandline>', () => {
  it('passes arguments through before -sandbox and adds the environment', () => {
    const { argv, env } = buildCommandLine(
      domain('qemu', 'http://libvirt.org/schemas/domain/qemu/1.0'),
      fixtureCaps(),
      paths,
    );
    const i = argv.indexOf('isa-debugcon,iobase=0x402,chardev=x y');
    expect(argv[i - 1]).toBe('-device');
    expect(argv[i + 1]).toBe('-sandbox');
    expect(Object.entries(env).slice(-2)).toEqual([
      ['NS', 'a b'],
      ['EMPTY', ''],
    ]);
  });

  it('follows the namespace URI, not the prefix', () => {
    const other = buildCommandLine(
      domain('q', 'http://libvirt.org/schemas/domain/qemu/1.0'),
      fixtureCaps(),
      paths,
    );
    expect(other.argv).toContain('isa-debugcon,iobase=0x402,chardev=x y');
    const foreign = buildCommandLine(domain('qemu', 'urn:dummy'), fixtureCaps(), paths);
    expect(foreign.argv).not.toContain('isa-debugcon,iobase=0x402,chardev=x y');
    expect(foreign.env.NS).toBeUndefined();
  });
});

// libvirt 11.3's qemuxmlconf outputs of qemu-ns-commandline-ns0/-ns1 and qemu-ns-domain-commandline-ns0
describe('the QEMU namespace on a stored definition', () => {
  const QEMU = 'http://libvirt.org/schemas/domain/qemu/1.0';
  const stored = (xml: string) => {
    const def = applyQemuDefaults(DomainDef.fromXML(xml), fixtureCaps());
    return { def, xml: def.toXML({ inactive: true }) };
  };
  const body = `<name>ns</name><memory unit='KiB'>65536</memory><os><type arch='x86_64' machine='pc'>hvm</type></os>`;

  it("writes any prefix as qemu:, declared once on <domain>, replacing another binding of 'qemu'", () => {
    const { def, xml } = stored(`<domain type='qemu' xmlns:qemu='urn:dummy'>${body}
      <ns0:commandline xmlns:ns0='${QEMU}'><ns1:arg xmlns:ns1='${QEMU}' value='ARGUMENT'/></ns0:commandline></domain>`);
    expect(xml.split('\n')[0]).toBe(`<domain type='qemu' xmlns:qemu='${QEMU}'>`);
    expect(xml).toContain("  <qemu:commandline>\n    <qemu:arg value='ARGUMENT'/>\n  </qemu:commandline>\n");
    expect(xml).not.toContain('ns0');
    expect(xml).not.toContain('urn:dummy');
    // and the stored form still reaches QEMU
    expect(buildCommandLine(def, fixtureCaps(), paths).argv).toContain('ARGUMENT');
  });

  it('leaves a definition without QEMU elements as it was', () => {
    const { xml } = stored(`<domain type='qemu'>${body}</domain>`);
    expect(xml.split('\n')[0]).toBe("<domain type='qemu'>");
  });
});

// The facts below are libvirt's (qemu_domain.c's namespace parser, qemu_command.c's -compat and
// override handling); qemu-ns in ../shared/conformance checks the whole command line byte for byte.
describe('<qemu:capabilities>, <qemu:override>, <qemu:deprecation>', () => {
  const QEMU = 'http://libvirt.org/schemas/domain/qemu/1.0';
  const body = `<name>ns</name><uuid>2dbf38e3-f285-456d-8a10-e6f9d59c469f</uuid><memory unit='KiB'>65536</memory><os><type arch='x86_64' machine='pc'>hvm</type></os>`;
  const disk = `<devices><disk type='file' device='disk'><source file='/var/lib/d.img'/>
    <target dev='hda' bus='ide'/><alias name='ua-d'/></disk></devices>`;
  const build = (extra: string, devices = '') =>
    buildCommandLine(
      applyQemuDefaults(
        DomainDef.fromXML(`<domain type='qemu' xmlns:q='${QEMU}'>${body}${devices}${extra}</domain>`),
        fixtureCaps(),
      ),
      fixtureCaps(),
      paths,
    );
  const failure = (extra: string, devices = '') => {
    try {
      build(extra, devices);
    } catch (e) {
      return e as { code: string; field: string };
    }
    throw new Error('expected a refusal');
  };
  const device = (argv: string[], id: string) =>
    JSON.parse(argv.find((a) => a.includes(`"id":"${id}"`)) ?? '{}') as Record<string, unknown>;

  it('accepts retired capability names, which change nothing', () => {
    const plain = build('');
    const retired = build(
      `<q:capabilities><q:add capability='vnc-colon'/><q:del capability='name'/></q:capabilities>`,
    );
    expect(retired.argv).toEqual(plain.argv);
    // but the guest is marked as libvirt marks it
    expect(plain.taints).toBeUndefined();
    expect(retired.taints).toEqual(['custom-hypervisor-feature']);
  });

  it('refuses a current flag by name, and an unknown name as libvirt does', () => {
    expect(failure(`<q:capabilities><q:del capability='kvm'/></q:capabilities>`)).toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      field: '/domain/qemu:capabilities/qemu:del[@capability]',
    });
    expect(failure(`<q:capabilities><q:add capability='no-such-flag'/></q:capabilities>`).code).toBe(
      'INTERNAL_ERROR',
    );
  });

  it('writes -compat after -name: output hidden, input rejected or fatal as asked', () => {
    const compat = (behavior: string) => {
      const { argv } = build(`<q:deprecation behavior='${behavior}'/>`);
      const i = argv.indexOf('-compat');
      if (i < 0) return undefined;
      expect(argv[i - 2]).toBe('-name');
      return JSON.parse(argv[i + 1] ?? '') as unknown;
    };
    expect(compat('none')).toBeUndefined();
    expect(compat('omit')).toEqual({ 'deprecated-output': 'hide' });
    expect(compat('reject')).toEqual({ 'deprecated-output': 'hide', 'deprecated-input': 'reject' });
    expect(compat('crash')).toEqual({ 'deprecated-output': 'hide', 'deprecated-input': 'crash' });
    expect(failure(`<q:deprecation behavior='later'/>`).field).toBe('/domain/qemu:deprecation/@behavior');
  });

  it("sets typed properties on the device with that alias, last, and removes the 'remove' ones", () => {
    const override = `<q:override><q:device alias='ua-d'><q:frontend>
      <q:property name='bootindex' type='remove'/>
      <q:property name='serial' type='string' value='S 1'/>
      <q:property name='n' type='signed' value='-5'/>
      <q:property name='u' type='unsigned' value='18446744073709551615'/>
      <q:property name='b' type='bool' value='false'/>
    </q:frontend></q:device><q:device alias='ua-other'><q:frontend>
      <q:property name='x' type='bool' value='true'/></q:frontend></q:device></q:override>`;
    const { argv } = build(override, disk);
    const i = argv.findIndex((a) => a.includes('"id":"ua-d"'));
    expect(argv[i]).toMatch(/"serial":"S 1","n":-5,"u":18446744073709551615,"b":false}$/);
    expect(device(argv, 'ua-d').bootindex).toBeUndefined();
    expect(argv.some((a) => a.includes('"x":true'))).toBe(false);
    expect(build(override, disk).taints).toEqual(['custom-device']);
  });

  it("refuses libvirt's bad properties: id, a value out of range or of the wrong kind, remove with a value", () => {
    const prop = (p: string) =>
      failure(
        `<q:override><q:device alias='ua-d'><q:frontend>${p}</q:frontend></q:device></q:override>`,
        disk,
      );
    expect(prop(`<q:property name='id' type='string' value='x'/>`).code).toBe('XML_ERROR');
    expect(prop(`<q:property name='n' type='signed' value='9223372036854775808'/>`).code).toBe('XML_ERROR');
    expect(prop(`<q:property name='n' type='unsigned' value='-1'/>`).code).toBe('XML_ERROR');
    expect(prop(`<q:property name='n' type='bool' value='yes'/>`).code).toBe('XML_ERROR');
    expect(prop(`<q:property name='n' type='remove' value='x'/>`).code).toBe('XML_ERROR');
    expect(prop(`<q:property name='n' type='float' value='1'/>`).code).toBe('XML_ERROR');
  });

  it('refuses unknown children, naming them', () => {
    expect(failure(`<q:commandline><q:argument value='x'/></q:commandline>`)).toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      field: '/domain/qemu:commandline/qemu:argument',
    });
    expect(failure(`<q:override><q:backend/></q:override>`).field).toBe('/domain/qemu:override/qemu:backend');
  });
});

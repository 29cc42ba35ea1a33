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

describe('QEMU namespace elements not carried out', () => {
  it('refuses <qemu:capabilities>, <qemu:override>, <qemu:deprecation> and unknown commandline children', () => {
    const QEMU = 'http://libvirt.org/schemas/domain/qemu/1.0';
    const body = `<name>ns</name><memory unit='KiB'>65536</memory><os><type arch='x86_64' machine='pc'>hvm</type></os>`;
    for (const [extra, field] of [
      [`<q:capabilities><q:del capability='name'/></q:capabilities>`, '/domain/qemu:capabilities'],
      [`<q:deprecation behavior='crash'/>`, '/domain/qemu:deprecation'],
      [`<q:commandline><q:argument value='x'/></q:commandline>`, '/domain/qemu:commandline/qemu:argument'],
    ] as const) {
      const def = DomainDef.fromXML(`<domain type='qemu' xmlns:q='${QEMU}'>${body}${extra}</domain>`);
      try {
        buildCommandLine(def, fixtureCaps(), paths);
        expect.unreachable();
      } catch (e) {
        expect((e as { code: string; field: string }).code).toBe('CONFIG_UNSUPPORTED');
        expect((e as { field: string }).field).toBe(field);
      }
    }
  });
});

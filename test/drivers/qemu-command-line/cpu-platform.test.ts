/**
 * `-cpu`, `-machine`, `-rtc` and the small platform options, with expected
 * values taken from libvirt 11.3's qemuxmlconf data (case named per test),
 * and the refusals that keep user names from setting other CPU properties.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine, type CommandLinePaths } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml, xmlEscape } from './caps-fixture.js';

const PATHS: CommandLinePaths = {
  domainDir: '/run/vk/dom',
  monitor: { path: '/run/vk/dom/monitor.sock' },
  clock: { now: 1234567890, localOffset: -1800 },
};

/** The tiny domain with `extra` inserted after `<os>`. */
function withXml(extra: string, devices = ''): string {
  return tinyDomainXml({ devices }).replace('</os>', `</os>${extra}`);
}

function build(xml: string) {
  const caps = fixtureCaps();
  return buildCommandLine(applyQemuDefaults(DomainDef.fromXML(xml), caps), caps, PATHS);
}

function option(xml: string, opt: string): string | undefined {
  const { argv } = build(xml);
  const i = argv.indexOf(opt);
  return i >= 0 ? argv[i + 1] : undefined;
}

function refusal(fn: () => unknown): VirError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VirError);
    return e as VirError;
  }
  throw new Error('expected a refusal');
}

describe('-cpu', () => {
  it('adds kvm-pv-eoi from <apic eoi> (eoi-disabled)', () => {
    expect(option(withXml("<features><apic eoi='off'/></features>"), '-cpu')).toBe('qemu64,kvm-pv-eoi=off');
  });

  it('writes kvmclock, eoi and pmu in libvirt order (kvmclock+eoi-disabled, pmu-feature-off)', () => {
    const xml = withXml(
      "<features><apic eoi='off'/><pmu state='off'/></features><clock offset='utc'><timer name='kvmclock' present='no'/></clock>",
    );
    expect(option(xml, '-cpu')).toBe('qemu64,kvmclock=off,kvm-pv-eoi=off,pmu=off');
  });

  it("translates libvirt feature names to QEMU's (cpu-translation)", () => {
    const xml = withXml(
      "<cpu match='exact'><model>Haswell</model><feature policy='require' name='pclmuldq'/><feature policy='require' name='ds_cpl'/></cpu>",
    );
    expect(option(xml, '-cpu')).toMatch(/^Haswell,pclmulqdq=on,ds-cpl=on/);
  });

  it('writes the physical address limit and cache mode (cpu-phys-bits-limit, cpu-cache-disable)', () => {
    const phys = withXml("<cpu mode='host-passthrough'><maxphysaddr mode='passthrough' limit='39'/></cpu>");
    expect(option(phys, '-cpu')).toBe('host,migratable=on,host-phys-bits=on,host-phys-bits-limit=39');
    const cache = withXml("<cpu mode='host-passthrough'><cache mode='disable'/></cpu>");
    expect(option(cache, '-cpu')).toBe('host,migratable=on,host-cache-info=off,l3-cache=off');
  });

  it('refuses a feature name that would add another -cpu property', () => {
    for (const name of ['sse2,model-id=PWNED', 'x=on', 'model-id', 'phys-bits']) {
      const xml = withXml(
        `<cpu><model>qemu64</model><feature policy='require' name='${xmlEscape(name)}'/></cpu>`,
      );
      const err = refusal(() => build(xml));
      expect(err.code).toBe('CONFIG_UNSUPPORTED');
      expect(err.field).toBe(`/domain/cpu/feature[@name='${name}']`);
    }
  });

  it('refuses a model name outside QEMU character set', () => {
    const err = refusal(() => build(withXml('<cpu><model>qemu64,model-id=PWNED</model></cpu>')));
    expect(err.code).toBe('CONFIG_UNSUPPORTED');
    expect(err.field).toBe('/domain/cpu/model');
  });

  it('refuses a Hyper-V vendor_id with a comma or longer than 12 characters', () => {
    for (const value of ['KVM,model-id=x', 'ABCDEFGHIJKLM']) {
      const xml = withXml(`<features><hyperv><vendor_id state='on' value='${value}'/></hyperv></features>`);
      expect(refusal(() => build(xml)).field).toBe('/domain/features/hyperv/vendor_id/@value');
    }
    const ok = withXml("<features><hyperv><vendor_id state='on' value='KVM Hv'/></hyperv></features>");
    expect(option(ok, '-cpu')).toBe('qemu64,hv-vendor-id=KVM Hv');
  });
});

describe('-machine', () => {
  it('takes vmport, i8042, dumpCore and nosharepages (machine-vmport-opt, machine-i8042-on, nosharepages)', () => {
    const xml = tinyDomainXml()
      .replace("<memory unit='MiB'>", "<memory dumpCore='on' unit='MiB'>")
      .replace(
        '</os>',
        "</os><memoryBacking><nosharepages/></memoryBacking><features><vmport state='off'/><ps2 state='on'/></features>",
      );
    expect(option(xml, '-machine')).toBe(
      'pc-i440fx-10.0,usb=off,vmport=off,i8042=on,dump-guest-core=on,mem-merge=off,memory-backend=pc.ram,acpi=off',
    );
  });
});

describe('-rtc', () => {
  it('sets a variable clock from the given now and local offset (clock-localtime-basis-localtime)', () => {
    const xml = withXml("<clock offset='variable' adjustment='3600' basis='localtime'/>");
    expect(option(xml, '-rtc')).toBe('base=2009-02-14T00:01:30');
  });

  it('passes a time zone through TZ (clock-france) and rtc tracking (clock-realtime)', () => {
    const { env, argv } = build(withXml("<clock offset='timezone' timezone='Europe/Paris'/>"));
    expect(env.TZ).toBe('Europe/Paris');
    expect(argv[argv.indexOf('-rtc') + 1]).toBe('base=localtime');
    const rt = withXml("<clock offset='utc'><timer name='rtc' track='realtime'/></clock>");
    expect(option(rt, '-rtc')).toBe('base=utc,clock=rt');
  });

  it('refuses what QEMU cannot do with the RTC', () => {
    const err = refusal(() => build(withXml("<clock offset='utc'><timer name='rtc' track='boot'/></clock>")));
    expect(err.code).toBe('CONFIG_UNSUPPORTED');
  });
});

describe('platform options', () => {
  it('writes menu=off for a disabled boot menu (boot-menu-disable)', () => {
    expect(option(withXml('').replace('</os>', "<bootmenu enable='no'/></os>"), '-boot')).toBe(
      'menu=off,strict=on',
    );
  });

  it('adds the vmgenid device (genid) and the 64-bit PCI hole (pcihole64)', () => {
    const genid = withXml('<genid>00010203-0405-4607-8809-0a0b0c0d0e0f</genid>');
    const { argv } = build(genid);
    expect(argv).toContain(
      '{"driver":"vmgenid","guid":"00010203-0405-4607-8809-0a0b0c0d0e0f","id":"vmgenid0"}',
    );
    const hole = tinyDomainXml({
      devices:
        "<controller type='pci' index='0' model='pci-root'><pcihole64 unit='KiB'>1048576</pcihole64></controller>",
    });
    expect(build(hole).argv).toContain('i440FX-pcihost.pci-hole64-size=1048576K');
  });

  it('sets the q35 TSEG size in MiB, the default unit (tseg-explicit-size)', () => {
    const xml = tinyDomainXml({ machine: 'q35' }).replace(
      '</os>',
      "</os><features><smm state='on'><tseg>48</tseg></smm></features>",
    );
    const caps = fixtureCaps();
    const def = applyQemuDefaults(DomainDef.fromXML(xml), caps);
    expect(def.toXML()).toContain("<tseg unit='MiB'>48</tseg>");
    const { argv } = buildCommandLine(def, caps, PATHS);
    expect(argv[argv.indexOf('-accel') + 2]).toBe('-global');
    expect(argv[argv.indexOf('-accel') + 3]).toBe('mch.extended-tseg-mbytes=48');
    const pc = withXml("<features><smm state='on'><tseg>48</tseg></smm></features>");
    expect(refusal(() => build(pc)).field).toBe('/domain/features/smm/tseg');
  });

  it('builds the ACPI ERST pstore after the sandbox (pstore-acpi-erst)', () => {
    const xml = tinyDomainXml({
      devices:
        "<pstore backend='acpi-erst'><path>/tmp/guest_acpi_esrt</path><size unit='KiB'>8</size><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></pstore>",
    });
    const { argv } = build(xml);
    const at = argv.indexOf('-sandbox');
    expect(argv.slice(at + 2, at + 6)).toEqual([
      '-object',
      '{"qom-type":"memory-backend-file","id":"mempstore0","mem-path":"/tmp/guest_acpi_esrt","size":8192,"share":true}',
      '-device',
      '{"driver":"acpi-erst","id":"pstore0","memdev":"mempstore0","bus":"pci.0","addr":"0x5"}',
    ]);
    const other = xml.replace("backend='acpi-erst'", "backend='other'");
    expect(refusal(() => build(other)).field).toBe('/domain/devices/pstore/@backend');
  });

  it('boots a kernel directly, each value one whole argument (nothing dropped), and adds ACPI tables (acpi-table)', () => {
    const os =
      '<kernel>/boot/vm,linuz</kernel><initrd>/boot/init rd</initrd><cmdline>console=ttyS0,115200 root=/dev/vda -x</cmdline>' +
      "<acpi><table type='slic'>/var/lib/libvirt/acpi/slic.dat</table><table type='raw'>/tmp/a,b.dat</table></acpi>";
    const { argv } = build(tinyDomainXml().replace('</type>', `</type>${os}`));
    const valueAfter = (opt: string, nth = 0) => argv.filter((_, i) => argv[i - 1] === opt)[nth];
    expect(valueAfter('-kernel')).toBe('/boot/vm,linuz');
    expect(valueAfter('-initrd')).toBe('/boot/init rd');
    expect(valueAfter('-append')).toBe('console=ttyS0,115200 root=/dev/vda -x');
    expect(valueAfter('-acpitable')).toBe('sig=SLIC,file=/var/lib/libvirt/acpi/slic.dat');
    expect(valueAfter('-acpitable', 1)).toBe('file=/tmp/a,,b.dat');
  });
});

/**
 * IOMMU, watchdogs, panic notifiers and RNG backends on the command line.
 * Expected values are libvirt 11.3's qemuxmlconf args (intel-iommu-*,
 * virtio-iommu-x86_64, watchdog, watchdog-q35-multiple, panic,
 * virtio-rng-default); the same options were accepted by
 * qemu-system-x86_64 10 (TCG).
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import type { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const paths = { domainDir: '/var/lib/x', monitor: { path: '/var/lib/x/monitor.sock' } };

function define(devices: string, machine = 'pc'): DomainDef {
  return applyQemuDefaults(
    DomainDef.fromXML(tinyDomainXml({ devices, machine }), { deferImplicitControllers: true }),
    fixtureCaps(),
  );
}

function argvOf(devices: string, machine = 'pc'): string[] {
  return buildCommandLine(define(devices, machine), fixtureCaps(), paths).argv;
}

function refusal(f: () => unknown): VirError {
  try {
    f();
  } catch (e) {
    return e as VirError;
  }
  throw new Error('expected a refusal');
}

describe('IOMMU', () => {
  it('writes intel-iommu options with their QEMU types, before the controllers', () => {
    const argv = argvOf(
      `<iommu model='intel'><driver intremap='on' caching_mode='on' aw_bits='48' dma_translation='off'/></iommu>`,
      'q35',
    );
    const i = argv.indexOf(
      '{"driver":"intel-iommu","id":"iommu0","intremap":"on","caching-mode":true,"aw-bits":48,"dma-translation":false}',
    );
    expect(i).toBeGreaterThan(argv.indexOf('-boot'));
    expect(i).toBeLessThan(argv.findIndex((a) => a.includes('"qemu-xhci"')));
  });

  it('puts virtio-iommu on the root bus even on q35', () => {
    const def = define(`<iommu model='virtio'/>`, 'q35');
    expect(def.devices?.iommu?.address).toMatchObject({ type: 'pci', bus: 0 });
    const dev = buildCommandLine(def, fixtureCaps(), paths).argv.find((a) => a.includes('"virtio-iommu"'));
    expect(dev).toMatch(/^\{"driver":"virtio-iommu","id":"iommu0","bus":"pcie\.0","addr":"0x[0-9a-f]+"\}$/);
  });

  it('refuses an option injected through a driver attribute and unknown options', () => {
    expect(
      refusal(() => argvOf(`<iommu model='intel'><driver intremap='on,x=1'/></iommu>`, 'q35')).field,
    ).toBe('/domain/devices/iommu/driver/@intremap');
    expect(refusal(() => argvOf(`<iommu model='virtio'><driver intremap='on'/></iommu>`, 'q35')).code).toBe(
      'CONFIG_UNSUPPORTED',
    );
  });
});

describe('watchdogs', () => {
  it('builds ib700 and one action, dump as pause', () => {
    const argv = argvOf(`<watchdog model='ib700' action='dump'/>`);
    expect(argv).toContain('{"driver":"ib700","id":"watchdog0"}');
    expect(argv[argv.indexOf('-watchdog-action') + 1]).toBe('pause');
  });

  it("gives q35's implicit iTCO the action of the others", () => {
    const def = define(`<watchdog model='i6300esb' action='poweroff'/>`, 'q35');
    expect(def.devices?.watchdogs?.map((w) => `${w.model}:${w.action}`)).toEqual([
      'i6300esb:poweroff',
      'itco:poweroff',
    ]);
    const argv = buildCommandLine(def, fixtureCaps(), paths).argv;
    expect(argv).toContain('ICH9-LPC.noreboot=off');
    expect(argv[argv.indexOf('-watchdog-action') + 1]).toBe('poweroff');
  });

  it('refuses different actions and unknown models', () => {
    const e = refusal(() =>
      argvOf(`<watchdog model='ib700' action='reset'/><watchdog model='i6300esb' action='poweroff'/>`),
    );
    expect(e.field).toBe('/domain/devices/watchdog[2]/@action');
    expect(refusal(() => argvOf(`<watchdog model='diag288'/>`)).field).toBe(
      '/domain/devices/watchdog[1]/@model',
    );
  });
});

describe('panic', () => {
  it('defaults to the ISA pvpanic and writes its port after -sandbox', () => {
    const def = define(`<panic><address type='isa' iobase='0x505'/></panic>`);
    expect(def.devices?.panics?.[0]?.model).toBe('isa');
    const argv = buildCommandLine(def, fixtureCaps(), paths).argv;
    const i = argv.indexOf('{"driver":"pvpanic","ioport":1285}');
    expect(i).toBeGreaterThan(argv.indexOf('-sandbox'));
  });

  it('refuses models it cannot build', () => {
    expect(refusal(() => argvOf(`<panic model='pseries'/>`)).field).toBe('/domain/devices/panic[1]/@model');
  });
});

describe('rng', () => {
  it('defaults the random backend to /dev/random', () => {
    const def = define(`<rng model='virtio'><backend model='random'/></rng>`);
    expect(def.devices?.rngs?.[0]?.backend.path).toBe('/dev/random');
    expect(buildCommandLine(def, fixtureCaps(), paths).argv).toContain(
      '{"qom-type":"rng-random","id":"objrng0","filename":"/dev/random"}',
    );
  });

  it('reaches an egd daemon through a chardev of its own', () => {
    const argv = argvOf(
      `<rng model='virtio'><backend model='egd' type='file'><source path='/tmp/egd'/></backend></rng>`,
    );
    const i = argv.indexOf('{"qom-type":"rng-egd","id":"objrng0","chardev":"charrng0"}');
    expect(argv[i - 3]).toBe('-chardev');
    expect(argv[i - 2]).toMatch(/^file,id=charrng0,path=\/tmp\/egd/);
  });
});

// libvirt 11.3's tpm-emulator, tpm-emulator-tpm2 and x86_64-pc-default-models data.
describe('TPM', () => {
  const tpm = (inner: string, model = '') => `<tpm${model}><backend type='emulator'${inner}/></tpm>`;

  it('defaults to TIS with TPM 1.2 on x86, 2.0 for CRB', () => {
    expect(define(tpm('')).devices?.tpms?.[0]).toMatchObject({
      model: 'tpm-tis',
      backend: { version: '1.2' },
    });
    expect(define(tpm('', " model='tpm-crb'"), 'q35').devices?.tpms?.[0]?.backend?.version).toBe('2.0');
  });

  it("reaches swtpm through the caller's socket, escaped for -chardev", () => {
    const def = define(tpm(" version='2.0'"));
    const argv = buildCommandLine(def, fixtureCaps(), { ...paths, tpmEmulatorSocket: '/run/a,b/sock' }).argv;
    const i = argv.indexOf('-tpmdev');
    expect(argv.slice(i - 2, i + 4)).toEqual([
      '-chardev',
      'socket,id=chrtpm,path=/run/a,,b/sock',
      '-tpmdev',
      'emulator,id=tpm-tpm0,chardev=chrtpm',
      '-device',
      '{"driver":"tpm-tis","tpmdev":"tpm-tpm0","id":"tpm0"}',
    ]);
  });

  it('refuses an emulated TPM when no swtpm runs, and passthrough', () => {
    expect(refusal(() => argvOf(tpm(''))).field).toBe('/domain/devices/tpm[1]/backend/@type');
    const pass = `<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>`;
    expect(refusal(() => argvOf(pass)).code).toBe('CONFIG_UNSUPPORTED');
  });
});

// libvirt 11.3's qemuxmlconf args of crypto-builtin, hyperv-panic, async-teardown and sound-device-virtio
describe('crypto, Hyper-V panic, asynchronous teardown, virtio sound options', () => {
  // what QEMU 10 reports: the crypto types and -run-with async-teardown
  const caps = fixtureCaps({
    qomTypes: [
      ...fixtureCaps().qomTypes,
      'cryptodev-backend-builtin',
      'cryptodev-backend-lkcf',
      'virtio-crypto-pci',
    ],
    flags: ['run-with.async-teardown'],
  });
  const cryptoArgv = (devices: string) => buildCommandLine(define(devices), caps, paths).argv;
  it('writes a builtin crypto backend object and its virtio-crypto device after the panic notifiers', () => {
    const argv = cryptoArgv(
      `<panic model='isa'/><crypto model='virtio' type='qemu'><backend model='builtin' queues='1'/>
        <driver iommu='on'/></crypto>`,
    );
    const obj = argv.indexOf('{"qom-type":"cryptodev-backend-builtin","id":"objcrypto0","queues":1}');
    expect(obj).toBeGreaterThan(argv.indexOf('{"driver":"pvpanic"}'));
    expect(argv[obj + 2]).toMatch(
      /^\{"driver":"virtio-crypto-pci","iommu_platform":true,"cryptodev":"objcrypto0","id":"crypto0","bus":"pci.0","addr":"0x\w+"\}$/,
    );
    // a definition keeps the backend and the options through a round trip
    const xml = define(
      `<crypto model='virtio' type='qemu'><backend model='lkcf' queues='2'/></crypto>`,
    ).toXML();
    expect(xml).toContain("<crypto model='virtio' type='qemu'>\n      <backend model='lkcf' queues='2'/>");
  });

  it('refuses a crypto backend this QEMU lacks, naming it', () => {
    const def = define(`<crypto model='virtio' type='qemu'><backend model='lkcf'/></crypto>`);
    const noLkcf = { ...caps, qomTypes: caps.qomTypes.filter((t) => t !== 'cryptodev-backend-lkcf') };
    const e = refusal(() => buildCommandLine(def, noLkcf, paths));
    expect(e.code).toBe('CONFIG_UNSUPPORTED');
    expect(e.field).toBe('/domain/devices/crypto[1]/backend/@model');
  });

  it('turns a Hyper-V panic device into hv-crash on -cpu', () => {
    const argv = argvOf(`<panic model='hyperv'/>`);
    expect(argv[argv.indexOf('-cpu') + 1]).toMatch(/,hv-crash$/);
    expect(argv.join(' ')).not.toContain('pvpanic');
  });

  it('writes -run-with async-teardown just before -msg', () => {
    const xml = tinyDomainXml().replace(
      '<devices>',
      "<features><async-teardown enabled='yes'/></features><devices>",
    );
    const def = applyQemuDefaults(DomainDef.fromXML(xml), caps);
    const argv = buildCommandLine(def, caps, paths).argv;
    expect(refusal(() => buildCommandLine(def, fixtureCaps(), paths)).code).toBe('CONFIG_UNSUPPORTED');
    expect(argv.slice(-4)).toEqual(['-run-with', 'async-teardown=on', '-msg', 'timestamp=on']);
  });

  it('gives a virtio sound card its virtio options and refuses them elsewhere', () => {
    const argv = argvOf(`<sound model='virtio'><driver iommu='on' packed='on'/></sound>`);
    expect(argv.find((a) => a.includes('virtio-sound-pci'))).toMatch(
      /^\{"driver":"virtio-sound-pci","iommu_platform":true,"packed":true,"id":"sound0",/,
    );
    expect(refusal(() => argvOf(`<sound model='ich6'><driver iommu='on'/></sound>`)).field).toBe(
      '/domain/devices/sound[1]/driver',
    );
  });
});

/**
 * Platform options of my area: ACPI sleep states, the default machine and
 * its aliases. Expected values come from libvirt 11.3's qemuxmlconf data
 * (case named per test) and libvirt's rules.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine, type CommandLinePaths } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const PATHS: CommandLinePaths = {
  domainDir: '/run/vk/dom',
  monitor: { path: '/run/vk/dom/monitor.sock' },
};

function defaults(xml: string): DomainDef {
  return applyQemuDefaults(DomainDef.fromXML(xml), fixtureCaps());
}

function argv(xml: string): string[] {
  return buildCommandLine(defaults(xml), fixtureCaps(), PATHS).argv;
}

/** The values of every occurrence of `opt`. */
function values(args: string[], opt: string): string[] {
  return args.flatMap((a, i) => (a === opt ? [args[i + 1] ?? ''] : []));
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

describe('<pm>', () => {
  const pm = (body: string, machine = 'pc') =>
    tinyDomainXml({ machine }).replace('</os>', `</os><pm>${body}</pm>`);

  it('disables S3/S4 on PIIX4 right after -no-shutdown (misc-disable-suspends)', () => {
    const a = argv(pm("<suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/>"));
    const i = a.indexOf('-no-shutdown');
    expect(a.slice(i + 1, i + 5)).toEqual([
      '-global',
      'PIIX4_PM.disable_s3=1',
      '-global',
      'PIIX4_PM.disable_s4=1',
    ]);
  });

  it('uses the ICH9 LPC bridge on q35 and writes 0 for an enabled state (q35)', () => {
    const a = argv(pm("<suspend-to-mem enabled='no'/><suspend-to-disk enabled='yes'/>", 'q35'));
    expect(values(a, '-global').slice(0, 2)).toEqual(['ICH9-LPC.disable_s3=1', 'ICH9-LPC.disable_s4=0']);
  });

  it('writes only the states the definition mentions (misc-disable-s3)', () => {
    const a = argv(pm("<suspend-to-mem enabled='no'/>"));
    expect(values(a, '-global').filter((g) => g.startsWith('PIIX4_PM.'))).toEqual(['PIIX4_PM.disable_s3=1']);
  });

  it('refuses S3/S4 settings on a non-x86 guest, naming the element', () => {
    const def = defaults(pm("<suspend-to-disk enabled='no'/>"));
    if (def.os) def.os.type.arch = 'aarch64';
    const e = refusal(() => buildCommandLine(def, fixtureCaps(), PATHS));
    expect(e.code).toBe('CONFIG_UNSUPPORTED');
    expect(e.field).toBe('/domain/pm/suspend-to-disk');
  });
});

describe('machine type', () => {
  it('stores an alias as the versioned machine it stands for (qemuCanonicalizeMachine)', () => {
    expect(defaults(tinyDomainXml({ machine: 'q35' })).os?.type.machine).toBe('pc-q35-10.0');
  });

  it('gives a definition without a machine the first machine of the caps (virQEMUCapsGetPreferredMachine)', () => {
    const xml = tinyDomainXml().replace(" machine='pc'", '');
    expect(defaults(xml).os?.type.machine).toBe('pc-i440fx-10.0');
  });
});

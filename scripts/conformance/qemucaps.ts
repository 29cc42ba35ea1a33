/**
 * Family `qemucaps`: replays libvirt's recorded QMP probe conversation
 * (`.replies`) through our probe-data builder and compares the facts we
 * derive with libvirt's expected capabilities cache XML: version, arch, KVM,
 * machine types per accelerator with their attributes, CPU models with
 * usable/blockers/deprecated, the host CPU expansion with per-feature
 * migratability, and the Hyper-V enlightenments. libvirt's capability flags
 * (`<flag>`) are libvirt-internal names and are not compared.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildQemuCaps, type QemuAccel, type QemuCaps } from '../../src/drivers/qemu/probe/qemu-caps.js';
import { probeDataFromTranscript } from '../../src/drivers/qemu/probe/transcript.js';
import { parseXml } from '../../src/xml/parse.js';
import { childElements, firstChild, getAttr, textContent, type XmlElement } from '../../src/xml/tree.js';
import { attempt, type CaseResult } from './types.js';

interface QemuCapsCase {
  name: string;
  arch: string;
  replies: string;
  expected: string;
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'qemucaps');
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as QemuCapsCase[];
  const out: CaseResult[] = [];
  for (const c of cases) {
    out.push(
      await attempt(c.name, () => {
        const expected = parseXml(readFileSync(join(dir, c.expected), 'utf8'), { maxSize: 64 * 1024 * 1024 });
        const emulator = textContent(firstChild(expected, 'emulator') ?? expected).trim();
        const caps = buildQemuCaps(
          probeDataFromTranscript(readFileSync(join(dir, c.replies), 'utf8'), emulator),
        );
        const problems = compareQemuCaps(caps, expected);
        return problems.length === 0 ? undefined : problems.slice(0, 5).join('; ');
      }),
    );
  }
  return out;
}

/** Every difference between our caps and libvirt's expected cache XML, as short messages. */
export function compareQemuCaps(caps: QemuCaps, xml: XmlElement): string[] {
  const problems: string[] = [];
  const expect = (what: string, ours: unknown, theirs: unknown) => {
    if (String(ours) !== String(theirs))
      problems.push(`${what}: ours ${String(ours)}, libvirt ${String(theirs)}`);
  };
  expect('version', caps.versionNumber, text(xml, 'version'));
  expect('package', caps.package, text(xml, 'package'));
  expect('arch', caps.arch, text(xml, 'arch'));
  expect(
    'kvm',
    caps.accel.kvm !== undefined,
    childElements(xml, 'flag').some((f) => getAttr(f, 'name') === 'kvm'),
  );

  for (const accel of ['kvm', 'tcg'] as QemuAccel[]) {
    const ours = caps.accel[accel];
    const machinesXml = childElements(xml, 'machine').filter((m) => getAttr(m, 'type') === accel);
    const cpusXml = childElements(xml, 'cpu').filter((m) => getAttr(m, 'type') === accel);
    const hostXml = childElements(xml, 'hostCPU').find((m) => getAttr(m, 'type') === accel);
    if (!ours) {
      if (machinesXml.length > 0) problems.push(`${accel}: no probe data but libvirt lists machines`);
      continue;
    }
    // machines
    const theirMachines = machinesXml.map((m) => machineKey(m));
    const ourMachines = ours.machines.map((m) =>
      [
        m.name,
        m.alias ?? '',
        m.hotplugCpus ? 'yes' : '',
        m.maxCpus,
        m.isDefault ? 'yes' : '',
        m.defaultCpuType ?? '',
        m.numaMemSupported ? 'yes' : '',
        m.defaultRamId ?? '',
        m.deprecated ? 'yes' : '',
        m.acpi === undefined ? '' : m.acpi ? 'yes' : 'no',
      ].join('|'),
    );
    setDiff(problems, `${accel} machines`, ourMachines, theirMachines);
    const firstOurs = ours.machines[0]?.name;
    const firstTheirs = machinesXml[0] ? getAttr(machinesXml[0], 'name') : undefined;
    expect(`${accel} first machine`, firstOurs, firstTheirs);
    // cpu models
    const theirCpus = cpusXml.map((c) =>
      [
        getAttr(c, 'name'),
        getAttr(c, 'typename') ?? '',
        getAttr(c, 'usable') ?? '',
        getAttr(c, 'deprecated') ?? '',
        childElements(c, 'blocker')
          .map((b) => getAttr(b, 'name'))
          .join(','),
      ].join('|'),
    );
    const ourCpus = ours.cpuModels.map((m) =>
      [
        m.name,
        m.typename ?? '',
        m.usable === undefined ? '' : m.usable ? 'yes' : 'no',
        m.deprecated ? 'yes' : '',
        m.blockers.join(','),
      ].join('|'),
    );
    setDiff(problems, `${accel} cpu models`, ourCpus, theirCpus);
    // host cpu
    if (hostXml) {
      if (!ours.hostCpu) problems.push(`${accel} host cpu: missing`);
      else {
        expect(`${accel} host cpu model`, ours.hostCpu.model, getAttr(hostXml, 'model'));
        expect(
          `${accel} host cpu migratability`,
          ours.hostCpu.migratability ? 'yes' : 'no',
          getAttr(hostXml, 'migratability'),
        );
        const theirProps = childElements(hostXml, 'property').map((p) =>
          [getAttr(p, 'name'), getAttr(p, 'type'), getAttr(p, 'value'), getAttr(p, 'migratable') ?? ''].join(
            '|',
          ),
        );
        const ourProps = ours.hostCpu.props.map((p) =>
          [
            p.name,
            p.type,
            String(p.value),
            p.migratable === undefined ? '' : p.migratable ? 'yes' : 'no',
          ].join('|'),
        );
        setDiff(problems, `${accel} host cpu props`, ourProps, theirProps);
      }
    } else if (ours.hostCpu) problems.push(`${accel} host cpu: libvirt has none`);
  }
  const hv = firstChild(xml, 'hypervCapabilities');
  if (hv && getAttr(hv, 'supported') === 'yes') {
    const theirs = childElements(hv, 'cap').map((c) => getAttr(c, 'name') ?? '');
    setDiff(problems, 'hyperv', caps.hypervFeatures ?? [], theirs);
  }
  return problems;
}

function machineKey(m: XmlElement): string {
  return [
    getAttr(m, 'name'),
    getAttr(m, 'alias') ?? '',
    getAttr(m, 'hotplugCpus') ?? '',
    getAttr(m, 'maxCpus') ?? '',
    getAttr(m, 'default') ?? '',
    getAttr(m, 'defaultCPU') ?? '',
    getAttr(m, 'numaMemSupported') ?? '',
    getAttr(m, 'defaultRAMid') ?? '',
    getAttr(m, 'deprecated') ?? '',
    getAttr(m, 'acpi') ?? '',
  ].join('|');
}

function text(xml: XmlElement, name: string): string | undefined {
  const el = firstChild(xml, name);
  return el ? textContent(el).trim() : undefined;
}

function setDiff(problems: string[], what: string, ours: string[], theirs: string[]): void {
  const a = new Set(ours);
  const b = new Set(theirs);
  const missing = theirs.filter((x) => !a.has(x));
  const extra = ours.filter((x) => !b.has(x));
  if (missing.length > 0 || extra.length > 0) {
    problems.push(
      `${what}: ${missing.length} missing (e.g. ${missing.slice(0, 2).join(' ; ')}), ${extra.length} extra (e.g. ${extra.slice(0, 2).join(' ; ')})`,
    );
  }
}

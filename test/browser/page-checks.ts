/**
 * What the browser page does with virtkit's browser entries. The test runs
 * the same function in Node, from the sources, and expects the bundled page
 * in Chromium to give the same answers; `load` supplies the three entries.
 */
export interface BrowserEntries {
  conf: typeof import('../../src/conf/index.js');
  cpu: typeof import('../../src/cpu/index.js');
  xml: typeof import('../../src/xml/index.js');
}

export const HOST_CPU = `<cpu>
  <arch>x86_64</arch>
  <model>Skylake-Client-IBRS</model>
  <vendor>Intel</vendor>
  <feature name='vmx'/>
</cpu>`;

export const GUEST_CPU = `<cpu mode='custom' match='exact' check='partial'>
  <model fallback='forbid'>Haswell-noTSX</model>
  <feature policy='require' name='avx2'/>
  <feature policy='disable' name='aes'/>
</cpu>`;

export async function runChecks(
  { conf, cpu, xml }: BrowserEntries,
  options: { validate: boolean },
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  out.format = xml.serializeXml(xml.parseXml("<domain  type='kvm'><name>a&amp;b</name><devices/></domain>"));
  const guest = conf.CpuDef.fromXML(GUEST_CPU);
  out.roundTrip = guest.toXML();
  out.compare = cpu.compareCpu(
    HOST_CPU,
    conf.CpuDef.fromXML('<cpu><model>Haswell-noTSX</model></cpu>'),
  ).result;
  const resolved = cpu.resolveGuestCpu(guest, conf.CpuDef.fromXML(HOST_CPU));
  out.resolved = {
    model: resolved.model,
    on: resolved.features.filter((f) => f.enabled).length,
    off: resolved.features.filter((f) => !f.enabled).map((f) => `${f.name}:${f.source}`),
    violations: resolved.violations.map((v) => `${v.feature}:${v.policy}`),
    arg: cpu.qemuCpuArg(resolved),
  };
  for (const [key, g, h] of [
    ['noHostModel', GUEST_CPU, '<cpu><arch>x86_64</arch></cpu>'],
    ['hostLacks', GUEST_CPU.replace('</cpu>', "<feature policy='require' name='avx512f'/></cpu>"), HOST_CPU],
  ] as const) {
    try {
      cpu.resolveGuestCpu(conf.CpuDef.fromXML(g), conf.CpuDef.fromXML(h));
      out[key] = 'resolved';
    } catch (err) {
      out[key] = `${(err as { name?: string }).name}:${(err as { code?: string }).code}`;
    }
  }
  if (options.validate) {
    out.valid = await xml.validate(GUEST_CPU, 'cpu');
    out.invalid = (await xml.validate("<cpu><model fallback='never'>x</model></cpu>", 'cpu')).valid;
  }
  return out;
}

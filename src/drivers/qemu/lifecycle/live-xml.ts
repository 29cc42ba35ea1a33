/**
 * A minimal live domain XML for a spec, used until the driver hands in the
 * full one from its domain model (`QemuGuestSpec.domainXml`).
 *
 * @module
 */
import { element, serializeXml, text, type XmlElement } from '../../../xml/index.js';
import type { QemuGuestSpec } from './guest-spec.js';

export function specToDomainXml(spec: QemuGuestSpec, id: number, currentKiB: number): string {
  const leaf = (name: string, value: string, attrs: Array<[string, string]> = []): XmlElement =>
    element(
      name,
      attrs.map(([n, v]) => ({ name: n, value: v })),
      [text(value)],
    );
  const root = element('domain', [
    { name: 'type', value: spec.virtType },
    { name: 'id', value: String(id) },
  ]);
  root.children.push(
    leaf('name', spec.name),
    leaf('uuid', spec.uuid),
    leaf('memory', String(spec.memoryKiB), [['unit', 'KiB']]),
    leaf('currentMemory', String(currentKiB), [['unit', 'KiB']]),
    leaf('vcpu', String(spec.vcpus), [['placement', 'static']]),
    element('os', [], [leaf('type', 'hvm', [['machine', spec.machine]])]),
  );
  const cpu = cpuElement(spec.cpu);
  if (cpu) root.children.push(cpu);
  root.children.push(
    leaf('on_poweroff', spec.onPoweroff ?? 'destroy'),
    leaf('on_reboot', spec.onReboot ?? 'restart'),
    leaf('on_crash', spec.onCrash ?? 'destroy'),
    element(
      'devices',
      [],
      [
        leaf('emulator', spec.emulator),
        element('memballoon', [{ name: 'model', value: spec.memballoon === false ? 'none' : 'virtio' }]),
      ],
    ),
  );
  return serializeXml(root);
}

/** `host` → host-passthrough, `max` → maximum, `Model,+f,-g` → custom with features. */
function cpuElement(cpu: string | undefined): XmlElement | undefined {
  if (cpu === undefined) return undefined;
  if (cpu === 'host') return element('cpu', [{ name: 'mode', value: 'host-passthrough' }]);
  if (cpu === 'max') return element('cpu', [{ name: 'mode', value: 'maximum' }]);
  const [model = '', ...flags] = cpu.split(',');
  const el = element('cpu', [
    { name: 'mode', value: 'custom' },
    { name: 'match', value: 'exact' },
  ]);
  el.children.push(element('model', [], [text(model)]));
  for (const f of flags) {
    if (f.startsWith('+') || f.startsWith('-')) {
      el.children.push(
        element('feature', [
          { name: 'policy', value: f.startsWith('+') ? 'require' : 'disable' },
          { name: 'name', value: f.slice(1) },
        ]),
      );
    }
  }
  return el;
}

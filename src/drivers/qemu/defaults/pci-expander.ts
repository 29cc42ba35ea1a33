/**
 * The first bus number (`<target busNr>`) of a PCI expander bus, filled in
 * at define as libvirt's address assignment does.
 *
 * @module
 */
import type { ControllerDef } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';

/**
 * libvirt's first bus number for an expander bus that has none: two below the
 * lowest any PCI controller has (256 when none has one), leaving a number for
 * the bridge inside the pxb; at 2 or below there is no room and it must be given.
 */
export function assignExpanderBusNr(c: ControllerDef, ctrls: ControllerDef[]): void {
  if (c.model !== 'pci-expander-bus' && c.model !== 'pcie-expander-bus') return;
  const busNr = (x: ControllerDef) => x.target?.attrs.find((a) => a.name === 'busNr')?.value;
  if (busNr(c) !== undefined) return;
  const taken = ctrls
    .filter((x) => x.type === 'pci')
    .map(busNr)
    .filter((v) => v !== undefined)
    .map(Number);
  const lowest = Math.min(256, ...taken);
  if (lowest <= 2)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `no free bus number below ${lowest} for the ${c.model} with index ${c.index ?? 0}: give it one`,
      { field: `/domain/devices/controller[@index=${c.index ?? 0}]/target/@busNr` },
    );
  c.target ??= { type: 'element', name: 'target', attrs: [], children: [] };
  c.target.attrs.push({ name: 'busNr', value: String(lowest - 2) });
}

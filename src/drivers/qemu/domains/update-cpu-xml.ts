/**
 * `getXML({ updateCpu })` (`VIR_DOMAIN_XML_UPDATE_CPU`, `virsh dumpxml
 * --update-cpu`): the document's guest CPU as the host would give it. A
 * `host-model` CPU, or a `custom` one with `match='minimum'`, becomes the
 * host-model CPU of the guest's emulator and accelerator (its migratable
 * form, as libvirt's QEMU driver uses), with the guest's own feature
 * policies on top; `optional` features are resolved against it. A named
 * `exact` or `strict` model keeps its features; `host-passthrough`,
 * `maximum` and a CPU without a model are left as they are. Only the
 * `<cpu>` element of the document changes.
 *
 * @module
 */
import { CpuDef } from '../../../conf/cpu.js';
import { updateCpu } from '../../../cpu/index.js';
import type { GetXmlOptions } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { parseXml } from '../../../xml/parse.js';
import { serializeXml } from '../../../xml/serialize.js';
import { type Entry, entryXml } from './domain-entry.js';
import { migratableXml } from './migratable-xml.js';
import type { QemuDomainsOptions } from './qemu-domains-options.js';

/** `getXML`'s document of `e` (live, persistent or migratable), its CPU updated when `updateCpu` asks. */
export async function documentXml(
  e: Entry,
  opts: GetXmlOptions,
  hostCpu: QemuDomainsOptions['hostCpu'],
): Promise<string> {
  const xml = opts.migratable ? migratableXml(e, opts) : entryXml(e, opts);
  if (!opts.updateCpu) return xml;
  const def = e.config ?? e.live;
  if (!hostCpu || !def)
    throw new VirError('NO_SUPPORT', 'qemu', 'updateCpu needs the host CPU', { field: 'updateCpu' });
  return withUpdatedCpu(xml, () => hostCpu(def, opts.signal));
}

/** `xml` (a domain document) with its `<cpu>` updated from `host()`, which is asked only when needed. */
export async function withUpdatedCpu(xml: string, host: () => Promise<CpuDef | undefined>): Promise<string> {
  const root = parseXml(xml);
  const at = root.children.findIndex((c) => c.type === 'element' && c.name === 'cpu');
  const el = root.children[at];
  if (el?.type !== 'element') return xml;
  const cpu = CpuDef.fromElement(el, '/domain/cpu');
  const mode = cpu.mode ?? 'custom';
  if (mode === 'host-passthrough' || mode === 'maximum' || (mode === 'custom' && !cpu.model?.name))
    return xml;
  const relative =
    mode === 'host-model' ||
    cpu.match === 'minimum' ||
    (cpu.features ?? []).some((f) => f.policy === 'optional');
  // without a host-model CPU (QEMU could not expand the host's), the update refuses a relative CPU
  root.children[at] = updateCpu(cpu, relative ? await host() : undefined).toElement();
  return serializeXml(root);
}

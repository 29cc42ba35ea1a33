/**
 * `<cpudata>`: raw CPUID leaves and MSRs as libvirt records them (the CPU
 * test data, and what a host's CPU looks like before it is decoded into a
 * model and features).
 *
 * @module
 */
import { VirError } from '../errors.js';
import { parseXml } from '../xml/parse.js';
import { serializeXml } from '../xml/serialize.js';
import type { XmlElement } from '../xml/tree.js';
import { assignParsed, attr, children, elementMapper, hexUint, type Infer, req, str } from './binding.js';

// libvirt's widths: registers as 8 hex digits, the sub-leaf as 2, an MSR index unpadded.
const u32 = hexUint(8, 0xffffffff);
const subleaf = hexUint(2, 0xffffffff);
const msrIndex = hexUint(1, 0xffffffff);

export const cpuidLeafMapper = elementMapper('cpuid', {
  eaxIn: req(attr('eax_in', u32)),
  ecxIn: req(attr('ecx_in', subleaf)),
  eax: req(attr('eax', u32)),
  ebx: req(attr('ebx', u32)),
  ecx: req(attr('ecx', u32)),
  edx: req(attr('edx', u32)),
});
export type CpuidLeaf = Infer<typeof cpuidLeafMapper.spec>;

export const msrMapper = elementMapper('msr', {
  index: req(attr('index', msrIndex)),
  edx: req(attr('edx', u32)),
  eax: req(attr('eax', u32)),
});
export type CpuMsr = Infer<typeof msrMapper.spec>;

export const cpuDataMapper = elementMapper('cpudata', {
  arch: req(attr('arch', str)),
  cpuid: children(cpuidLeafMapper),
  msrs: children(msrMapper),
});
export type CpuDataData = Infer<typeof cpuDataMapper.spec>;

export interface CpuData extends CpuDataData {}

/** Raw CPU data (`<cpudata arch='x86'>` with `<cpuid>` leaves and `<msr>` registers). */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class CpuData {
  constructor(data: CpuDataData) {
    Object.assign(this, data);
  }

  /**
   * Parses the document, applying libvirt's defaults and checks; `XML_ERROR` / `XML_DETAIL` with
   * the line or field at fault.
   */
  static fromXML(xml: string): CpuData {
    return CpuData.fromElement(parseXml(xml));
  }

  /** Reads an element already parsed (by `parseXml` or as part of a larger document). */
  static fromElement(el: XmlElement): CpuData {
    if (el.name !== 'cpudata') {
      throw new VirError('XML_ERROR', 'conf', `expected root element <cpudata>, found <${el.name}>`, {
        ...(el.line !== undefined ? { line: el.line } : {}),
        field: '/',
      });
    }
    return assignParsed(new CpuData({ arch: '' }), cpuDataMapper.read(el));
  }

  /** The model as an XML tree, as `toXML` would write it, for embedding in a larger document. */
  toElement(): XmlElement {
    return cpuDataMapper.write(this);
  }

  /** Formats the model as libvirt does. */
  toXML(): string {
    return serializeXml(this.toElement());
  }
}

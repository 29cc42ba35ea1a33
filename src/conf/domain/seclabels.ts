/**
 * `<seclabel>` as libvirt reads an inactive definition and writes it back:
 * the domain's labels (type dynamic by default; a static label keeps only
 * `<label>`; a dynamic one only `<baselabel>`; `<imagelabel>` and a
 * dynamic `<label>` are run-time values, not part of a definition) and
 * the per-device overrides inside device sources (`labelskip` is run-time
 * state too, and an override that relabels without a label says nothing).
 *
 * A lone label without a model takes the driver's default security model;
 * with model `none` it becomes `type='none'`.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import { element, text as textNode, type XmlElement } from '../../xml/tree.js';
import { setUnknownContent, unknownContent } from '../binding.js';
import type { DomainDefData } from './domain-spec.js';

const attrOf = (el: XmlElement, name: string) => el.attrs.find((a) => a.name === name)?.value;

function childText(el: XmlElement, name: string): string | undefined {
  const c = el.children.find((x): x is XmlElement => x.type === 'element' && x.name === name);
  if (!c) return undefined;
  const t = c.children.map((x) => (x.type === 'text' || x.type === 'cdata' ? x.value : '')).join('');
  return t === '' ? undefined : t;
}

function yesNoAttr(el: XmlElement, name: string, field: string): boolean | undefined {
  const v = attrOf(el, name);
  if (v === undefined) return undefined;
  if (v === 'yes') return true;
  if (v === 'no') return false;
  throw new VirError('XML_DETAIL', 'conf', `${field}/@${name}: '${v}' is not yes or no`, {
    field: `${field}/@${name}`,
  });
}

type SecType = 'dynamic' | 'static' | 'none';

interface DomainLabel {
  type: SecType;
  model: string | undefined;
  relabel: boolean;
  label?: string;
  baselabel?: string;
}

function readDomainLabel(el: XmlElement, field: string): DomainLabel {
  const model = attrOf(el, 'model');
  const t = attrOf(el, 'type') ?? 'dynamic';
  if (t !== 'dynamic' && t !== 'static' && t !== 'none')
    throw new VirError('XML_DETAIL', 'conf', `${field}/@type: unknown label type '${t}'`, {
      field: `${field}/@type`,
    });
  const type: SecType = t;
  const relabel = yesNoAttr(el, 'relabel', field) ?? type === 'dynamic';
  if (type === 'dynamic' && !relabel)
    throw new VirError('CONFIG_UNSUPPORTED', 'conf', 'a dynamic label type must use resource relabeling', {
      field: `${field}/@relabel`,
    });
  if (type === 'none' && relabel)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'conf',
      "resource relabeling does not go with the 'none' label type",
      {
        field: `${field}/@relabel`,
      },
    );
  // Older configurations wrote model 'none' with other types; an inactive definition is fixed up.
  if (model === 'none') return { type: 'none', model, relabel: false };
  const out: DomainLabel = { type, model, relabel };
  if (type === 'static') {
    const label = childText(el, 'label');
    if (label === undefined)
      throw new VirError('XML_ERROR', 'conf', 'security label is missing', { field: `${field}/label` });
    out.label = label;
  }
  if (type === 'dynamic') {
    const base = childText(el, 'baselabel');
    if (base !== undefined) out.baselabel = base;
  }
  return out;
}

function writeDomainLabel(l: DomainLabel): XmlElement {
  const attrs: Array<{ name: string; value: string }> = [{ name: 'type', value: l.type }];
  if (l.model !== undefined) attrs.push({ name: 'model', value: l.model });
  if (l.type === 'none') return element('seclabel', attrs);
  attrs.push({ name: 'relabel', value: l.relabel ? 'yes' : 'no' });
  const kids: XmlElement[] = [];
  if (l.label !== undefined) kids.push(element('label', [], [textNode(l.label)]));
  if (l.baselabel !== undefined) kids.push(element('baselabel', [], [textNode(l.baselabel)]));
  return element('seclabel', attrs, kids);
}

export function normalizeDomainSeclabels(def: DomainDefData, defaultModel: string | undefined): void {
  const els = def.seclabels;
  if (!els || els.length === 0) return;
  const labels = els.map((el, i) => readDomainLabel(el, `/domain/seclabel[${i + 1}]`));
  labels.forEach((l, i) => {
    if (labels.slice(0, i).some((p) => p.model === l.model))
      throw new VirError('XML_DETAIL', 'conf', `seclabel for model ${l.model ?? ''} is already provided`, {
        field: `/domain/seclabel[${i + 1}]`,
      });
  });
  const only = labels.length === 1 ? labels[0] : undefined;
  if (only && only.model === undefined && defaultModel !== undefined) {
    if (only.type === 'none' || (only.type === 'dynamic' && only.baselabel === undefined)) {
      only.model = defaultModel;
      if (defaultModel === 'none') {
        only.type = 'none';
        only.relabel = false;
      }
    } else
      throw new VirError('XML_ERROR', 'conf', 'missing security model in domain seclabel', {
        field: '/domain/seclabel[1]/@model',
      });
  }
  if (labels.length > 1) {
    const i = labels.findIndex((l) => l.model === undefined);
    if (i >= 0)
      throw new VirError('XML_ERROR', 'conf', 'missing security model when using multiple labels', {
        field: `/domain/seclabel[${i + 1}]/@model`,
      });
  }
  def.seclabels = labels.map(writeDomainLabel);
}

/** A device's override, or undefined when an inactive definition has nothing to keep of it. */
function deviceLabel(el: XmlElement, field: string): XmlElement | undefined {
  const model = attrOf(el, 'model');
  const given = yesNoAttr(el, 'relabel', field);
  const relabel = given ?? true;
  const label = childText(el, 'label');
  if (label !== undefined && !relabel)
    throw new VirError('XML_ERROR', 'conf', 'a label cannot be given when relabelling is off', {
      field: `${field}/label`,
    });
  if (given === true && label === undefined)
    throw new VirError('XML_ERROR', 'conf', 'relabel needs a label', { field: `${field}/@relabel` });
  if (relabel && label === undefined) return undefined;
  const attrs = model !== undefined ? [{ name: 'model', value: model }] : [];
  attrs.push({ name: 'relabel', value: relabel ? 'yes' : 'no' });
  return element('seclabel', attrs, label !== undefined ? [element('label', [], [textNode(label)])] : []);
}

/**
 * Rewrites the `<seclabel>` overrides kept (as unknown XML) anywhere under
 * `<devices>`: disk and character device sources, and the like.
 */
export function normalizeDeviceSeclabels(devices: object | undefined): void {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): void => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, `${path}[${i + 1}]`);
      return;
    }
    const uc = unknownContent(v);
    if (uc?.nodes.some((n) => n.node.type === 'element' && n.node.name === 'seclabel')) {
      const models = new Set<string | undefined>();
      const nodes = uc.nodes.flatMap((n, i) => {
        if (n.node.type !== 'element' || n.node.name !== 'seclabel') return [n];
        const field = `${path}/seclabel[${i + 1}]`;
        const model = attrOf(n.node, 'model');
        if (model !== undefined && models.has(model))
          throw new VirError('XML_DETAIL', 'conf', `seclabel for model ${model} is already provided`, {
            field,
          });
        models.add(model);
        const out = deviceLabel(n.node, field);
        return out ? [{ after: n.after, node: out }] : [];
      });
      setUnknownContent(v, { attrs: uc.attrs, nodes });
    }
    for (const [k, x] of Object.entries(v)) if (typeof x === 'object') walk(x, `${path}/${k}`);
  };
  walk(devices, '/domain/devices');
}

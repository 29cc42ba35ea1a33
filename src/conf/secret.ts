/**
 * `<secret>`: a secret's metadata (`virSecretGetXMLDesc`), never its value.
 *
 * The usage says what the secret unlocks, and the one child it needs
 * depends on the usage type: a volume path, a Ceph or TLS or vTPM name, an
 * iSCSI target.
 *
 * @module
 */
import { serializeXml } from '../xml/serialize.js';
import type { XmlElement } from '../xml/tree.js';
import {
  assignParsed,
  attr,
  child,
  childText,
  elementMapper,
  enumOf,
  type Infer,
  str,
  yesNo,
} from './binding.js';
import {
  newUuid,
  objectError,
  type ParseObjectOptions,
  parseRoot,
  uuid,
  withoutUnknown,
} from './object-xml.js';

/** The `type` values of a secret's `<usage>`: what the secret is for. */
export const SECRET_USAGE_TYPES = ['none', 'volume', 'ceph', 'iscsi', 'tls', 'vtpm'] as const;
/** One of `SECRET_USAGE_TYPES`. */
export type SecretUsageType = (typeof SECRET_USAGE_TYPES)[number];

/** The element naming what each usage type is for. */
const USAGE_ID_ELEMENT: Record<SecretUsageType, string | undefined> = {
  none: undefined,
  volume: 'volume',
  ceph: 'name',
  iscsi: 'target',
  tls: 'name',
  vtpm: 'name',
};

const secretUsageMapper = elementMapper('usage', {
  type: attr('type', enumOf(SECRET_USAGE_TYPES)),
  volume: childText('volume', str),
  name: childText('name', str),
  target: childText('target', str),
});
export type SecretUsage = Infer<typeof secretUsageMapper.spec>;

export const secretMapper = elementMapper('secret', {
  ephemeral: attr('ephemeral', yesNo),
  private: attr('private', yesNo),
  uuid: childText('uuid', uuid),
  description: childText('description', str),
  usage: child(secretUsageMapper),
});
type SecretData = Infer<typeof secretMapper.spec>;

export interface SecretDef extends SecretData {}

/**
 * A secret's metadata (`<secret>`): its UUID, usage and flags; the secret value itself is never part of the document.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class SecretDef {
  /**
   * Parses secret XML. A missing UUID is generated, as libvirt does; a
   * usage without its type, or without the element its type needs, is
   * refused (`XML_ERROR`).
   */
  static fromXML(xml: string, options: ParseObjectOptions = {}): SecretDef {
    return SecretDef.fromElement(parseRoot(xml, 'secret'), options);
  }

  /** Reads an element already parsed (by `parseXml` or as part of a larger document). */
  static fromElement(el: XmlElement, options: ParseObjectOptions = {}): SecretDef {
    let data = secretMapper.read(el, '/secret');
    if (options.preserveUnknown === false) data = withoutUnknown(data);
    const def = assignParsed(new SecretDef(), data);
    def.ephemeral ??= false;
    def.private ??= false;
    def.uuid ??= newUuid();
    const usage = def.usage;
    if (usage) {
      const at = el.children.find((c): c is XmlElement => c.type === 'element' && c.name === 'usage');
      if (usage.type === undefined)
        throw objectError('XML_ERROR', '/secret/usage/@type', 'missing usage type', at);
      const idName = USAGE_ID_ELEMENT[usage.type];
      // Only the element the type names counts; the others are not part of this usage.
      const id = idName === undefined ? undefined : (usage as Record<string, string | undefined>)[idName];
      if (idName !== undefined && id === undefined)
        throw objectError(
          'XML_ERROR',
          `/secret/usage/${idName}`,
          `${usage.type} usage needs <${idName}>`,
          at,
        );
      for (const k of ['volume', 'name', 'target'] as const) if (k !== idName) delete usage[k];
    }
    return def;
  }

  /** The usage's identifier (volume path, name or target), if any. */
  get usageId(): string | undefined {
    const u = this.usage;
    if (!u?.type) return undefined;
    const k = USAGE_ID_ELEMENT[u.type];
    return k === undefined ? undefined : (u as Record<string, string | undefined>)[k];
  }

  /** The model as an XML tree, as `toXML` would write it, for embedding in a larger document. */
  toElement(): XmlElement {
    return secretMapper.write(this);
  }

  /** Formats the definition as libvirt does. */
  toXML(): string {
    return serializeXml(this.toElement());
  }
}

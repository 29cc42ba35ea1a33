/**
 * `<encryption>` of a storage volume: the format (qcow's own or LUKS),
 * the secrets holding its passphrase and, for LUKS, cipher and IV
 * generator choices.
 *
 * @module
 */
import { attr, child, children, elementMapper, enumOf, type Infer, req, str, uint32 } from '../binding.js';
import { objectError } from '../object-xml.js';
import { secretRefMapper } from './common.js';

/** The `format` values of `<encryption>`. */
export const ENCRYPTION_FORMATS = ['default', 'qcow', 'luks', 'luks2', 'luks-any'] as const;
/** The `engine` values of `<encryption>`: who decrypts, QEMU or librbd. */
export const ENCRYPTION_ENGINES = ['qemu', 'librbd'] as const;

const cipherMapper = elementMapper('cipher', {
  name: req(attr('name', str)),
  size: req(attr('size', uint32)),
  mode: attr('mode', str),
  hash: attr('hash', str),
});

const ivgenMapper = elementMapper('ivgen', {
  name: req(attr('name', str)),
  hash: attr('hash', str),
});

export const encryptionMapper = elementMapper('encryption', {
  format: attr('format', enumOf(ENCRYPTION_FORMATS)),
  engine: attr('engine', enumOf(ENCRYPTION_ENGINES)),
  secrets: children(secretRefMapper),
  cipher: child(cipherMapper),
  ivgen: child(ivgenMapper),
});
export type StorageEncryption = Infer<typeof encryptionMapper.spec>;

/** libvirt's encryption rules; cipher details only mean something for LUKS. */
export function normalizeEncryption(e: StorageEncryption, field: string): StorageEncryption {
  if (e.format === undefined)
    throw objectError('XML_ERROR', `${field}/@format`, 'unknown volume encryption format');
  for (const [i, s] of (e.secrets ?? []).entries()) {
    if (s.type !== 'passphrase')
      throw objectError(
        'XML_ERROR',
        `${field}/secret[${i + 1}]/@type`,
        'unknown volume encryption secret type',
      );
    if (s.uuid === undefined && s.usage === undefined)
      throw objectError('XML_ERROR', `${field}/secret[${i + 1}]`, 'a secret needs a uuid or a usage');
  }
  if (e.format !== 'luks') {
    delete e.cipher;
    delete e.ivgen;
  } else if (e.ivgen && !e.cipher) {
    throw objectError('XML_ERROR', `${field}/ivgen`, 'ivgen element found, but cipher is missing');
  }
  return e;
}

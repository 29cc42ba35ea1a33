/**
 * `-object secret` for a credential QEMU needs (a disk's password or key, an
 * encryption passphrase): the value AES-256-CBC encrypted with the domain's
 * master key, as libvirt passes it, so it never appears in clear on the
 * command line or in the process list.
 *
 * @module
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { VirError } from '../../../errors.js';
import type { Props } from './device-props.js';
import type { CommandLineSecrets, SecretRef } from './types.js';

/** The props of a `secret` object holding `ref`'s value under the master key. */
export function secretObjectProps(
  id: string,
  ref: SecretRef,
  secrets: CommandLineSecrets | undefined,
  field: string,
): Props {
  if (secrets === undefined)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${field}: a secret needs the master key and secret values`,
      {
        field,
      },
    );
  const value = secrets.value(ref);
  if (value === undefined)
    throw new VirError(
      'NO_SECRET',
      'qemu',
      `secret ${ref.uuid ?? `${ref.type ?? ''} '${ref.usage ?? ''}'`} not found`,
      {
        field,
      },
    );
  return encryptedSecretProps(id, value, secrets);
}

/** The props of a `secret` object holding `value` (bytes, or text as UTF-8) under the master key. */
export function encryptedSecretProps(
  id: string,
  value: Uint8Array | string,
  secrets: CommandLineSecrets,
): Props {
  if (secrets.masterKey.length !== 32)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'the master key must be 32 bytes', {
      field: 'paths.secrets.masterKey',
    });
  const iv = secrets.iv?.() ?? randomBytes(16);
  const c = createCipheriv('aes-256-cbc', secrets.masterKey, iv);
  const data = Buffer.concat([
    c.update(typeof value === 'string' ? Buffer.from(value, 'utf8') : value),
    c.final(),
  ]);
  return {
    'qom-type': 'secret',
    id,
    data: data.toString('base64'),
    keyid: 'masterKey0',
    iv: Buffer.from(iv).toString('base64'),
    format: 'base64',
  };
}

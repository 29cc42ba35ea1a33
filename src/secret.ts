/**
 * Secrets on a connection: `conn.secrets` (list, lookup by UUID or usage,
 * define) and {@link Secret} handles (libvirt's `virSecretPtr`).
 *
 * A secret's value is bytes (`Uint8Array`), never a string: the caller can
 * wipe its copy when done, and nothing here keeps, logs or formats it. A
 * handle holds only the identity; `getValue` answers a fresh copy each time.
 *
 * @module
 */

import { SecretDef } from './conf/secret.js';
import { toXml, type XmlSource } from './connection-args.js';
import type {
  CallOptions,
  ObjectEventOptions,
  ObjectOwner,
  SecretDriver,
  SecretEvent,
  SecretLookup,
  SecretObjectRef,
  SecretUsageName,
} from './driver-objects.js';
import { VirError } from './errors.js';
import { checkName, checkUuid } from './object-args.js';

type Run<T> = (d: SecretDriver, signal: AbortSignal) => Promise<T>;

function call<T>(owner: ObjectOwner, what: string, opts: CallOptions, run: Run<T>): Promise<T> {
  return owner._objectCall('secrets', what, opts, run);
}

function write<T>(owner: ObjectOwner, what: string, opts: CallOptions, run: Run<T>): Promise<T> {
  try {
    owner._writable(what);
  } catch (err) {
    return Promise.reject(err);
  }
  return call(owner, what, opts, run);
}

const USAGES: readonly SecretUsageName[] = ['none', 'volume', 'ceph', 'iscsi', 'tls', 'vtpm'];

/** `conn.secrets`: the secrets of a connection. */
export class Secrets<C extends ObjectOwner = ObjectOwner> {
  readonly #conn: C;

  /** @internal made by `Connection` */
  constructor(conn: C) {
    this.#conn = conn;
  }

  /** Secret events (`defined`, `undefined`, `valueChanged`: never the value), buffered like `conn.events()`. */
  events(options: ObjectEventOptions<SecretEvent> = {}) {
    return this.#conn._objectEvents('secrets', options);
  }

  /** The secrets that pass `filter` (`virConnectListAllSecrets`): `ephemeral` and `private` as in `<secret>`; every one without a filter. */
  async list(
    filter: { ephemeral?: boolean; private?: boolean } = {},
    opts: CallOptions = {},
  ): Promise<Secret<C>[]> {
    const refs = await call(this.#conn, 'listSecrets', opts, (d, signal) =>
      d.listSecrets(filter, { signal }),
    );
    return refs.map((r) => new Secret(this.#conn, r));
  }

  /** By UUID (a string or `{ uuid }`) or by usage (`{ usageType, usageId }`); `NO_SECRET` when none matches. */
  async lookup(key: string | SecretLookup, opts: CallOptions = {}): Promise<Secret<C>> {
    let k: SecretLookup;
    if (typeof key === 'string') k = { uuid: checkUuid(key, 'uuid', 'secret') };
    else if (key && typeof key === 'object' && 'uuid' in key)
      k = { uuid: checkUuid(key.uuid, 'uuid', 'secret') };
    else if (key && typeof key === 'object' && 'usageType' in key) {
      if (!USAGES.includes(key.usageType) || key.usageType === 'none')
        throw new VirError('INVALID_ARG', 'secret', `invalid usage type '${String(key.usageType)}'`, {
          field: 'usageType',
        });
      k = { usageType: key.usageType, usageId: checkName(key.usageId, 'usageId', 'secret') };
    } else throw new VirError('INVALID_ARG', 'secret', 'a secret lookup needs a UUID or a usage');
    const ref = await call(this.#conn, 'lookupSecret', opts, (d, signal) => d.lookupSecret(k, { signal }));
    return new Secret(this.#conn, ref);
  }

  /** Defines (or redefines) a secret, without a value yet (`virSecretDefineXML`). */
  async define(def: XmlSource, opts: CallOptions = {}): Promise<Secret<C>> {
    const xml = toXml(def);
    const ref = await write(this.#conn, 'defineSecret', opts, (d, signal) => d.defineSecret(xml, { signal }));
    return new Secret(this.#conn, ref);
  }
}

/** One secret (`virSecretPtr`). */
export class Secret<C extends ObjectOwner = ObjectOwner> {
  readonly #conn: C;
  readonly #ref: SecretObjectRef;

  /** @internal handles come from `conn.secrets` */
  constructor(conn: C, ref: SecretObjectRef) {
    this.#conn = conn;
    this.#ref = ref;
  }

  /** The secret's UUID, lower-case canonical. */
  get uuid(): string {
    return this.#ref.uuid;
  }

  /** What the secret is for: `<usage type>` (`none` when it has no usage). */
  get usageType(): SecretUsageName {
    return this.#ref.usageType;
  }

  /** The volume path, Ceph/TLS/vTPM name or iSCSI target the secret is for; empty for usage `none`. */
  get usageId(): string {
    return this.#ref.usageId;
  }

  /** The connection the handle was made on. */
  get connection(): C {
    return this.#conn;
  }

  /** The secret's `<secret>` XML (`virSecretGetXMLDesc`); never its value. */
  getXML(opts: CallOptions = {}): Promise<string> {
    return call(this.#conn, 'getSecretXML', opts, (d, signal) => d.secretGetXml(this.#ref, { signal }));
  }

  /** The definition, typed. */
  async getDefinition(opts: CallOptions = {}): Promise<SecretDef> {
    return SecretDef.fromXML(await this.getXML(opts));
  }

  /** Sets the value (`virSecretSetValue`); the driver keeps its own copy, so the caller may wipe `value`. */
  setValue(value: Uint8Array, opts: CallOptions = {}): Promise<void> {
    if (!(value instanceof Uint8Array)) {
      return Promise.reject(
        new VirError('INVALID_ARG', 'secret', 'a secret value must be a Uint8Array', { field: 'value' }),
      );
    }
    return write(this.#conn, 'setSecretValue', opts, (d, signal) =>
      d.secretSetValue(this.#ref, value, { signal }),
    );
  }

  /**
   * The value, a fresh copy the caller owns (`virSecretGetValue`). Refused
   * on a read-only connection and for a private secret, as in libvirt.
   */
  getValue(opts: CallOptions = {}): Promise<Uint8Array> {
    return write(this.#conn, 'getSecretValue', opts, (d, signal) => d.secretGetValue(this.#ref, { signal }));
  }

  /** Removes the secret and its value (`virSecretUndefine`). */
  undefine(opts: CallOptions = {}): Promise<void> {
    return write(this.#conn, 'undefineSecret', opts, (d, signal) => d.secretUndefine(this.#ref, { signal }));
  }
}

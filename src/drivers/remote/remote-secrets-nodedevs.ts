/**
 * The secret and node device sub-drivers over libvirt's remote program.
 * A secret's value crosses as XDR opaque bytes; it is handed over as the
 * decoded buffer and never kept here.
 *
 * @module
 */
import type {
  CallOptions,
  NodeDeviceCapName,
  NodeDeviceDriver,
  NodeDeviceEvent,
  NodeDeviceRef,
  SecretDriver,
  SecretEvent,
  SecretLookup,
  SecretObjectRef,
} from '../../driver-objects.js';
import { remoteProcedures as P } from './gen/remote-protocol.js';
import type { RemoteObjectEvents } from './remote-object-events.js';
import {
  nodeDeviceFlags,
  type RemoteCall,
  SECRET_USAGES,
  secretRef,
  toSecret,
} from './remote-object-values.js';
import { uuidToBytes } from './remote-values.js';

export class RemoteSecrets implements SecretDriver {
  readonly #call: RemoteCall;
  readonly #events: RemoteObjectEvents;

  constructor(call: RemoteCall, events: RemoteObjectEvents) {
    this.#call = call;
    this.#events = events;
  }

  subscribe(listener: (event: SecretEvent) => void): () => void {
    return this.#events.subscribe('secret', (e) => {
      if (e.type === 'secret') listener(e);
    });
  }

  async listSecrets(
    filter: { ephemeral?: boolean; private?: boolean },
    opts?: CallOptions,
  ): Promise<SecretObjectRef[]> {
    // VIR_CONNECT_LIST_SECRETS_EPHEMERAL = 1, NO_EPHEMERAL = 2, PRIVATE = 4, NO_PRIVATE = 8
    const pair = (v: boolean | undefined, yes: number, no: number) => (v === undefined ? 0 : v ? yes : no);
    const flags = pair(filter.ephemeral, 1, 2) | pair(filter.private, 4, 8);
    const r = await this.#call(P.CONNECT_LIST_ALL_SECRETS, { need_results: 1, flags }, opts);
    return r.secrets.map(secretRef);
  }

  async lookupSecret(key: SecretLookup, opts?: CallOptions): Promise<SecretObjectRef> {
    if ('uuid' in key)
      return secretRef(
        (await this.#call(P.SECRET_LOOKUP_BY_UUID, { uuid: uuidToBytes(key.uuid) }, opts)).secret,
      );
    const args = { usageType: SECRET_USAGES.indexOf(key.usageType), usageID: key.usageId };
    return secretRef((await this.#call(P.SECRET_LOOKUP_BY_USAGE, args, opts)).secret);
  }

  async defineSecret(xml: string, opts?: CallOptions): Promise<SecretObjectRef> {
    return secretRef((await this.#call(P.SECRET_DEFINE_XML, { xml, flags: 0 }, opts)).secret);
  }

  async secretGetXml(secret: SecretObjectRef, opts?: CallOptions): Promise<string> {
    return (await this.#call(P.SECRET_GET_XML_DESC, { secret: toSecret(secret), flags: 0 }, opts)).xml;
  }

  async secretSetValue(secret: SecretObjectRef, value: Uint8Array, opts?: CallOptions): Promise<void> {
    await this.#call(P.SECRET_SET_VALUE, { secret: toSecret(secret), value, flags: 0 }, opts);
  }

  async secretGetValue(secret: SecretObjectRef, opts?: CallOptions): Promise<Uint8Array> {
    return (await this.#call(P.SECRET_GET_VALUE, { secret: toSecret(secret), flags: 0 }, opts)).value;
  }

  async secretUndefine(secret: SecretObjectRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.SECRET_UNDEFINE, { secret: toSecret(secret) }, opts);
  }
}

/** More capability names than any device has: the daemon's upper bound for one list. */
const MAX_CAPS = 64;

export class RemoteNodeDevices implements NodeDeviceDriver {
  readonly #call: RemoteCall;
  readonly #events: RemoteObjectEvents;

  constructor(call: RemoteCall, events: RemoteObjectEvents) {
    this.#call = call;
    this.#events = events;
  }

  async createNodeDevice(xml: string, opts?: CallOptions): Promise<NodeDeviceRef> {
    const r = await this.#call(P.NODE_DEVICE_CREATE_XML, { xml_desc: xml, flags: 0 }, opts);
    return { name: r.dev.name };
  }

  async nodeDeviceDestroy(dev: NodeDeviceRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.NODE_DEVICE_DESTROY, { name: dev.name }, opts);
  }

  subscribe(listener: (event: NodeDeviceEvent) => void): () => void {
    return this.#events.subscribe('nodeDevice', (e) => {
      if (e.type === 'nodeDevice') listener(e);
    });
  }

  async listNodeDevices(
    filter: { caps?: readonly NodeDeviceCapName[] },
    opts?: CallOptions,
  ): Promise<NodeDeviceRef[]> {
    const flags = nodeDeviceFlags(filter.caps ?? []);
    const r = await this.#call(P.CONNECT_LIST_ALL_NODE_DEVICES, { need_results: 1, flags }, opts);
    return r.devices.map((d) => ({ name: d.name }));
  }

  async lookupNodeDevice(name: string, opts?: CallOptions): Promise<NodeDeviceRef> {
    return { name: (await this.#call(P.NODE_DEVICE_LOOKUP_BY_NAME, { name }, opts)).dev.name };
  }

  async nodeDeviceGetXml(dev: NodeDeviceRef, opts?: CallOptions): Promise<string> {
    return (await this.#call(P.NODE_DEVICE_GET_XML_DESC, { name: dev.name, flags: 0 }, opts)).xml;
  }

  async nodeDeviceGetParent(dev: NodeDeviceRef, opts?: CallOptions): Promise<string | undefined> {
    return (await this.#call(P.NODE_DEVICE_GET_PARENT, { name: dev.name }, opts)).parentName ?? undefined;
  }

  async nodeDeviceListCaps(dev: NodeDeviceRef, opts?: CallOptions): Promise<string[]> {
    return (await this.#call(P.NODE_DEVICE_LIST_CAPS, { name: dev.name, maxnames: MAX_CAPS }, opts)).names;
  }

  async nodeDeviceDetach(
    dev: NodeDeviceRef,
    opts: CallOptions & { driverName?: string } = {},
  ): Promise<void> {
    const args = { name: dev.name, driverName: opts.driverName ?? null, flags: 0 };
    await this.#call(P.NODE_DEVICE_DETACH_FLAGS, args, opts);
  }

  async nodeDeviceReAttach(dev: NodeDeviceRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.NODE_DEVICE_RE_ATTACH, { name: dev.name }, opts);
  }

  async nodeDeviceReset(dev: NodeDeviceRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.NODE_DEVICE_RESET, { name: dev.name }, opts);
  }
}

/**
 * The test driver's secrets, in memory. libvirt's test driver has no secret
 * driver (its calls are `NO_SUPPORT`); virtkit's has one so that code which
 * stores a disk passphrase can be tested without a daemon. It follows
 * libvirt's secret driver: a UUID keeps its usage, one usage has one secret,
 * a secret without a value answers `NO_SECRET`, a private one never gives
 * its value (`INVALID_SECRET`), and an ephemeral one is never on disk (nothing
 * is, here).
 *
 * Values are copied in and out, so neither the caller nor this store shares
 * a buffer with the other; an undefined secret's value is overwritten.
 *
 * @module
 */
import { SecretDef } from '../../conf/secret.js';
import type { SecretDriver, SecretEvent, SecretLookup, SecretObjectRef } from '../../driver-objects.js';
import { VirError } from '../../errors.js';
import type { ObjectEvents } from './test-object-events.js';

interface TestSecret {
  def: SecretDef;
  value: Uint8Array | undefined;
}

function ref(s: TestSecret): SecretObjectRef {
  return { uuid: s.def.uuid!, usageType: s.def.usage?.type ?? 'none', usageId: s.def.usageId ?? '' };
}

export class TestSecrets implements SecretDriver {
  readonly #secrets = new Map<string, TestSecret>();
  readonly #events: ObjectEvents;

  constructor(events: ObjectEvents) {
    this.#events = events;
  }

  #emit(s: TestSecret, event: SecretEvent['event']): void {
    this.#events.emit({ type: 'secret', secret: ref(s), event, timestamp: Date.now() });
  }

  subscribe(listener: (event: SecretEvent) => void): () => void {
    return this.#events.on('secret', listener);
  }

  #find(uuid: string): TestSecret {
    const s = this.#secrets.get(uuid);
    if (!s) throw new VirError('NO_SECRET', 'secret', `no secret with matching uuid '${uuid}'`);
    return s;
  }

  async listSecrets(filter: { ephemeral?: boolean; private?: boolean }): Promise<SecretObjectRef[]> {
    return [...this.#secrets.values()]
      .filter(
        (s) =>
          (filter.ephemeral === undefined || filter.ephemeral === s.def.ephemeral) &&
          (filter.private === undefined || filter.private === s.def.private),
      )
      .map(ref);
  }

  async lookupSecret(key: SecretLookup): Promise<SecretObjectRef> {
    if ('uuid' in key) return ref(this.#find(key.uuid));
    const s = [...this.#secrets.values()].find(
      (x) => (x.def.usage?.type ?? 'none') === key.usageType && x.def.usageId === key.usageId,
    );
    if (!s) throw new VirError('NO_SECRET', 'secret', `no secret with matching usage '${key.usageId}'`);
    return ref(s);
  }

  async defineSecret(xml: string): Promise<SecretObjectRef> {
    const def = SecretDef.fromXML(xml);
    const uuid = def.uuid!;
    const usageId = def.usageId;
    const old = this.#secrets.get(uuid);
    if (old) {
      if (old.def.usageId !== usageId)
        throw new VirError(
          'INTERNAL_ERROR',
          'secret',
          `a secret with UUID ${uuid} is already defined for use with ${old.def.usageId ?? ''}`,
        );
      if (old.def.private && !def.private)
        throw new VirError('INTERNAL_ERROR', 'secret', 'cannot change private flag on existing secret');
      old.def = def;
      this.#emit(old, 'defined');
      return ref(old);
    }
    if (def.usage && def.usage.type !== 'none') {
      const clash = [...this.#secrets.values()].find(
        (x) => x.def.usage?.type === def.usage?.type && x.def.usageId === usageId,
      );
      if (clash)
        throw new VirError(
          'INTERNAL_ERROR',
          'secret',
          `a secret with UUID ${clash.def.uuid} already defined for use with ${usageId ?? ''}`,
        );
    }
    const s: TestSecret = { def, value: undefined };
    this.#secrets.set(uuid, s);
    this.#emit(s, 'defined');
    return ref(s);
  }

  async secretGetXml(r: SecretObjectRef): Promise<string> {
    return this.#find(r.uuid).def.toXML();
  }

  async secretSetValue(r: SecretObjectRef, value: Uint8Array): Promise<void> {
    const s = this.#find(r.uuid);
    s.value?.fill(0);
    s.value = Uint8Array.from(value);
    this.#emit(s, 'valueChanged');
  }

  async secretGetValue(r: SecretObjectRef): Promise<Uint8Array> {
    const s = this.#find(r.uuid);
    if (s.def.private) throw new VirError('INVALID_SECRET', 'secret', 'secret is private');
    if (!s.value) throw new VirError('NO_SECRET', 'secret', `secret '${r.uuid}' does not have a value`);
    return Uint8Array.from(s.value);
  }

  async secretUndefine(r: SecretObjectRef): Promise<void> {
    const s = this.#find(r.uuid);
    s.value?.fill(0);
    this.#secrets.delete(r.uuid);
    this.#emit(s, 'undefined');
  }
}

/**
 * The state of one fake host: its domains (by UUID, name and running id),
 * the ids it hands out, its event listeners, and the transitions every
 * call shares (boot, stop, reboot), with the states, reasons and events
 * libvirt's test driver gives them.
 *
 * Nothing here waits or checks locks: `TestConnection` runs each call's
 * body under the domain's job, in one synchronous step.
 *
 * @module
 */
import type { DomainDef } from '../../conf/domain/domain-def.js';
import type {
  AnyDomainEvent,
  DomainEventListener,
  DomainEventName,
  DomainLookup,
  DomainRef,
  DomainStateName,
} from '../../driver.js';
import { VirError } from '../../errors.js';
import type { TestSnapshot } from './snapshots.js';
import { onCrash, onPoweroff, onReboot } from './test-definition.js';

/** A domain as the fake hypervisor holds it. */
export interface TestDomain {
  uuid: string;
  name: string;
  id: number;
  state: DomainStateName;
  reason: string;
  persistent: boolean;
  /**
   * Whether a next-boot definition exists (libvirt's `newDef`): true once
   * the domain is persistent, kept when a running domain is undefined. It
   * decides two details libvirt shows: redefining reports `updated` rather
   * than `added`, and a stop event carries id -1 rather than the old id.
   */
  nextBootDef: boolean;
  autostart: boolean;
  managedSave: boolean;
  /** The next-boot definition (for a transient domain, the one it was created from). */
  config: DomainDef;
  /** The running guest; undefined when inactive. */
  live: LiveState | undefined;
  /** Snapshots by name, oldest first; created on the first snapshot. */
  snapshots?: Map<string, TestSnapshot>;
  currentSnapshot?: string | undefined;
  /** The last document getXML formatted, reused while nothing it shows has changed. */
  xmlCache?: { def: DomainDef; key: string; xml: string };
}

/** A running guest: its definition, memory and vCPU changes included. */
export interface LiveState {
  def: DomainDef;
  /** `process.hrtime` at boot, for cpuTime. */
  bootedAt: bigint;
}

/** A domain of the initial host setup. */
export interface InitialDomain {
  config: DomainDef;
  state: DomainStateName;
  persistent: boolean;
  hasManagedSave: boolean;
}

export function ref(d: TestDomain): DomainRef {
  return { name: d.name, uuid: d.uuid, id: d.id };
}

export class TestHost {
  readonly byUuid = new Map<string, TestDomain>();
  readonly byName = new Map<string, TestDomain>();
  readonly byId = new Map<number, TestDomain>();
  readonly listeners = new Set<DomainEventListener>();
  /** The next running id; ids count up from the last one handed out, as in libvirt. */
  nextId = 1;

  clear(): void {
    this.listeners.clear();
    this.byUuid.clear();
    this.byName.clear();
    this.byId.clear();
  }

  find(key: DomainLookup): TestDomain {
    let d: TestDomain | undefined;
    if ('uuid' in key) d = this.byUuid.get(key.uuid);
    else if ('name' in key) d = this.byName.get(key.name);
    else d = this.byId.get(key.id);
    if (d) return d;
    const what = 'uuid' in key ? `uuid '${key.uuid}'` : 'name' in key ? `name '${key.name}'` : `id ${key.id}`;
    throw new VirError('NO_DOMAIN', 'test', `no domain with matching ${what}`);
  }

  /**
   * The domain a new definition replaces, if any, after libvirt's identity
   * checks: a UUID already used under another name, or a name already used
   * with another UUID, is refused.
   */
  claim(def: DomainDef): TestDomain | undefined {
    const uuid = def.uuid ?? '';
    const same = this.byUuid.get(uuid);
    if (same && same.name !== def.name) {
      throw new VirError(
        'OPERATION_FAILED',
        'test',
        `domain '${same.name}' is already defined with uuid ${same.uuid}`,
      );
    }
    if (!same) {
      const named = this.byName.get(def.name);
      if (named) {
        throw new VirError(
          'OPERATION_FAILED',
          'test',
          `domain '${named.name}' already exists with uuid ${named.uuid}`,
        );
      }
    }
    return same;
  }

  insert(def: DomainDef, persistent: boolean): TestDomain {
    const d: TestDomain = {
      uuid: def.uuid ?? '',
      name: def.name,
      id: -1,
      state: 'shutoff',
      reason: 'unknown',
      persistent,
      nextBootDef: persistent,
      autostart: false,
      managedSave: false,
      config: def,
      live: undefined,
    };
    this.byUuid.set(d.uuid, d);
    this.byName.set(d.name, d);
    return d;
  }

  /** A domain from the initial host setup, placed in its state without events. */
  adopt(init: InitialDomain): void {
    const def = init.config;
    if (this.byUuid.has(def.uuid ?? '') || this.byName.has(def.name)) {
      throw new VirError('NO_CONNECT', 'test', `domain '${def.name}' is defined twice`);
    }
    const d = this.insert(def, init.persistent);
    if (init.state !== 'shutoff') {
      d.id = this.nextId++;
      this.byId.set(d.id, d);
      d.live = liveFrom(def);
      d.state = init.state;
    } else {
      d.managedSave = init.hasManagedSave;
    }
  }

  remove(d: TestDomain): void {
    this.byUuid.delete(d.uuid);
    if (this.byName.get(d.name) === d) this.byName.delete(d.name);
  }

  rename(d: TestDomain, name: string): void {
    if (this.byName.get(d.name) === d) this.byName.delete(d.name);
    d.name = name;
    this.byName.set(name, d);
  }

  boot(d: TestDomain, def: DomainDef, paused: boolean): void {
    this.start(d, def);
    d.managedSave = false;
    this.setState(d, 'running', 'booted');
    this.emit(d, 'started', 'booted');
    if (paused) {
      this.setState(d, 'paused', 'user');
      this.emit(d, 'suspended', 'paused');
    }
  }

  /** Gives the domain a new id and a running guest of `def`, without state or events. */
  start(d: TestDomain, def: DomainDef): void {
    d.id = this.nextId++;
    this.byId.set(d.id, d);
    d.live = liveFrom(def);
  }

  stop(d: TestDomain, reason: string, detail: string): void {
    const eventId = this.halt(d, reason);
    if (!d.persistent) this.remove(d);
    this.emit(d, 'stopped', detail, eventId);
  }

  /**
   * Takes a domain down to shutoff; returns the id its stop event carries:
   * -1, except for a domain that never had a next-boot definition, whose
   * event keeps the id it ran with (as libvirt's test driver reports it).
   */
  halt(d: TestDomain, reason: string): number {
    const eventId = d.nextBootDef ? -1 : d.id;
    this.byId.delete(d.id);
    d.id = -1;
    d.live = undefined;
    this.setState(d, 'shutoff', reason);
    return eventId;
  }

  /** The guest stops and its hypervisor boots it again (an `on_*` of `restart`). */
  reboot(d: TestDomain, stopDetail: string): void {
    const def = d.persistent ? d.config : (d.live?.def ?? d.config);
    this.emit(d, 'stopped', stopDetail, this.halt(d, stopDetail));
    this.boot(d, def, false);
  }

  setState(d: TestDomain, state: DomainStateName, reason: string): void {
    d.state = state;
    d.reason = reason;
  }

  // --- what the guest itself does (driven by a TestControl) ----------------------

  crashGuest(d: TestDomain): void {
    this.emit(d, 'crashed', 'panicked');
    const action = onCrash(d.live?.def ?? d.config);
    if (action === 'preserve') this.setState(d, 'crashed', 'panicked');
    else if (action.endsWith('restart')) this.reboot(d, 'crashed');
    else this.stop(d, 'crashed', 'crashed');
  }

  guestShutdown(d: TestDomain): void {
    this.emit(d, 'shutdown', 'guest');
    if (onPoweroff(d.live?.def ?? d.config).endsWith('restart')) this.reboot(d, 'shutdown');
    else this.stop(d, 'shutdown', 'shutdown');
  }

  guestReboot(d: TestDomain): void {
    const action = onReboot(d.live?.def ?? d.config);
    if (action === 'destroy' || action === 'coredump-destroy') {
      this.emit(d, 'shutdown', 'guest');
      this.stop(d, 'shutdown', 'shutdown');
    } else {
      this.setState(d, 'running', 'booted');
    }
  }

  emit(d: TestDomain, event: DomainEventName, detail: string, id = d.id): void {
    if (this.listeners.size === 0) return;
    const domain = { name: d.name, uuid: d.uuid, id };
    this.dispatch({ type: 'lifecycle', domain, event, detail, timestamp: Date.now() });
  }

  /** Hands any domain event to the listeners. */
  dispatch(ev: AnyDomainEvent): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch {
        // A listener's bug must not undo or stop a transition that already happened.
      }
    }
  }
}

export function liveFrom(def: DomainDef): LiveState {
  return { def, bootedAt: process.hrtime.bigint() };
}

/**
 * The QEMU driver's table of domains: one {@link Entry} per known domain by
 * UUID, libvirt's identity rules when a definition arrives, the queries
 * over it, and delivery of lifecycle events to the driver's listeners.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import type {
  AnyDomainEvent,
  DomainEventListener,
  DomainEventName,
  DomainLookup,
  DomainRef,
  ListDomainsFilter,
  QemuMonitorEvent,
} from '../../../driver.js';
import { VirError } from '../../../errors.js';
import type { ConfigStore } from './config-store.js';
import { type Entry, isActive, refOf, stateOf } from './domain-entry.js';

export class DomainTable {
  readonly byUuid = new Map<string, Entry>();
  readonly listeners = new Set<DomainEventListener>();
  /** The monitor tap's listeners (libvirt-qemu's monitor event registrations). */
  readonly monitorListeners = new Set<(event: QemuMonitorEvent) => void>();

  constructor(readonly store: ConfigStore) {}

  subscribe(listener: DomainEventListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  subscribeMonitor(listener: (event: QemuMonitorEvent) => void): () => void {
    this.monitorListeners.add(listener);
    return () => {
      this.monitorListeners.delete(listener);
    };
  }

  /** Hands a raw QMP event to the monitor tap. */
  forwardMonitor(ev: QemuMonitorEvent): void {
    for (const l of [...this.monitorListeners]) {
      try {
        l(ev);
      } catch {
        // A listener's bug must not disturb the domain.
      }
    }
  }

  list(filter: ListDomainsFilter): DomainRef[] {
    const states = filter.state === undefined ? undefined : new Set<string>([filter.state].flat());
    const out: DomainRef[] = [];
    for (const e of this.byUuid.values()) {
      if (filter.active !== undefined && filter.active !== isActive(e)) continue;
      if (filter.persistent !== undefined && filter.persistent !== (e.config !== undefined)) continue;
      if (filter.autostart !== undefined && filter.autostart !== this.autostart(e)) continue;
      if (states && !states.has(stateOf(e).state)) continue;
      out.push(refOf(e));
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  lookup(key: DomainLookup): DomainRef {
    let found: Entry | undefined;
    if ('uuid' in key) found = this.byUuid.get(key.uuid);
    else if ('name' in key) found = this.byName(key.name);
    else if (key.id >= 0)
      found = [...this.byUuid.values()].find((e) => isActive(e) && refOf(e).id === key.id);
    if (found) return refOf(found);
    const what = 'uuid' in key ? `uuid '${key.uuid}'` : 'name' in key ? `name '${key.name}'` : `id ${key.id}`;
    throw new VirError('NO_DOMAIN', 'qemu', `no domain with matching ${what}`);
  }

  byName(name: string): Entry | undefined {
    for (const e of this.byUuid.values()) if (e.name === name) return e;
    return undefined;
  }

  /** The entry a definition replaces, after libvirt's identity checks. */
  claim(def: DomainDef): Entry | undefined {
    const same = def.uuid ? this.byUuid.get(def.uuid) : undefined;
    if (same && same.name !== def.name) {
      throw new VirError(
        'OPERATION_FAILED',
        'qemu',
        `domain '${same.name}' is already defined with uuid ${same.uuid}`,
      );
    }
    if (!same) {
      const named = this.byName(def.name);
      if (named) {
        throw new VirError(
          'OPERATION_FAILED',
          'qemu',
          `domain '${named.name}' already exists with uuid ${named.uuid}`,
        );
      }
    }
    return same;
  }

  insert(def: DomainDef, persistent: boolean): Entry {
    const e: Entry = {
      name: def.name,
      uuid: def.uuid ?? '',
      config: persistent ? def : undefined,
      live: undefined,
      runner: undefined,
      unsubscribe: undefined,
    };
    this.byUuid.set(e.uuid, e);
    return e;
  }

  drop(e: Entry): void {
    e.unsubscribe?.();
    e.unsubscribe = undefined;
    if (this.byUuid.get(e.uuid) === e) this.byUuid.delete(e.uuid);
  }

  emit(e: Entry, event: DomainEventName, detail: string): void {
    this.forward({ type: 'lifecycle', domain: refOf(e), event, detail, timestamp: Date.now() });
  }

  forward(ev: AnyDomainEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(ev);
      } catch {
        // A listener's bug must not disturb the domain.
      }
    }
  }

  autostart(e: Entry): boolean {
    return e.config !== undefined && this.store.isAutostart(e.name);
  }
}

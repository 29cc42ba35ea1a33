/**
 * libvirt's numeric domain states, state reasons and lifecycle event
 * details by name (facts of `virDomainState`, `virDomain*Reason` and
 * `virDomainEvent*DetailType`). Names are the enum suffixes, lower-case,
 * with spaces for underscores (`from snapshot`), as src/driver.ts spells them.
 */
import type { DomainEventName, DomainStateName } from '../../driver.js';

export const DOMAIN_STATES: readonly DomainStateName[] = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
];

const REASONS: Readonly<Record<DomainStateName, readonly string[]>> = {
  nostate: ['unknown'],
  running: [
    'unknown',
    'booted',
    'migrated',
    'restored',
    'from snapshot',
    'unpaused',
    'migration canceled',
    'save canceled',
    'wakeup',
    'crashed',
    'postcopy',
    'postcopy failed',
  ],
  blocked: ['unknown'],
  paused: [
    'unknown',
    'user',
    'migration',
    'save',
    'dump',
    'ioerror',
    'watchdog',
    'from snapshot',
    'shutting down',
    'snapshot',
    'crashed',
    'starting up',
    'postcopy',
    'postcopy failed',
  ],
  shutdown: ['unknown', 'user'],
  shutoff: [
    'unknown',
    'shutdown',
    'destroyed',
    'crashed',
    'migrated',
    'saved',
    'failed',
    'from snapshot',
    'daemon',
  ],
  crashed: ['unknown', 'panicked'],
  pmsuspended: ['unknown'],
};

export const DOMAIN_EVENTS: readonly DomainEventName[] = [
  'defined',
  'undefined',
  'started',
  'suspended',
  'resumed',
  'stopped',
  'shutdown',
  'pmsuspended',
  'crashed',
];

const DETAILS: Readonly<Record<DomainEventName, readonly string[]>> = {
  defined: ['added', 'updated', 'renamed', 'from snapshot'],
  undefined: ['removed', 'renamed'],
  started: ['booted', 'migrated', 'restored', 'from snapshot', 'wakeup'],
  suspended: [
    'paused',
    'migrated',
    'ioerror',
    'watchdog',
    'restored',
    'from snapshot',
    'api error',
    'postcopy',
    'postcopy failed',
  ],
  resumed: ['unpaused', 'migrated', 'from snapshot', 'postcopy', 'postcopy failed'],
  stopped: ['shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from snapshot'],
  shutdown: ['finished', 'guest', 'host'],
  pmsuspended: ['memory', 'disk'],
  crashed: ['panicked', 'crashloaded'],
};

export function stateName(state: number): DomainStateName {
  return DOMAIN_STATES[state] ?? 'nostate';
}

/** A reason a newer daemon may send that we have no name for reads `unknown (N)`. */
export function reasonName(state: DomainStateName, reason: number): string {
  return REASONS[state][reason] ?? `unknown (${reason})`;
}

export function eventName(event: number): DomainEventName | undefined {
  return DOMAIN_EVENTS[event];
}

export function detailName(event: DomainEventName, detail: number): string {
  return DETAILS[event][detail] ?? `unknown (${detail})`;
}

/** `virConnectListAllDomainsFlags` bits. */
export const ListFlags = {
  ACTIVE: 1,
  INACTIVE: 2,
  PERSISTENT: 4,
  TRANSIENT: 8,
  RUNNING: 16,
  PAUSED: 32,
  SHUTOFF: 64,
  OTHER: 128,
  AUTOSTART: 1024,
  NO_AUTOSTART: 2048,
} as const;

/**
 * The public shapes of fleet planning: what goes in (host documents, guest
 * definitions) and what comes out (a verdict per guest × host with the
 * features at fault, a baseline per host group, "what if" answers).
 *
 * @module
 */
import type { Capabilities } from '../../conf/capabilities.js';
import type { CpuDef, CpuMode } from '../../conf/cpu.js';
import type { DomainCapabilities } from '../../conf/domaincaps.js';

/**
 * One host of the fleet, as its documents describe it. At least one of
 * `capabilities` (its host CPU) and `domainCapabilities` (what its
 * hypervisor offers a guest: host-model CPU, usable models and their
 * blockers) or `cpu` (a host CPU alone, e.g. decoded from CPUID) is needed.
 */
export interface FleetHostInput {
  /** Unique within the fleet; used in every result. */
  name: string;
  capabilities?: Capabilities | string;
  domainCapabilities?: DomainCapabilities | string;
  /** A host-style `<cpu>`; takes the place of the capabilities' host CPU. */
  cpu?: CpuDef | string;
}

/**
 * What the planner reads of a domain: a `DomainDef` is one (the planner
 * does not need, nor bundle, the rest of the domain model).
 */
export interface FleetDomain {
  name: string;
  cpu?: CpuDef | undefined;
  os?: { type?: { arch?: string | undefined } | undefined } | undefined;
}

/**
 * A guest: a domain definition (a `DomainDef`, or `<domain>` XML) or a guest
 * CPU (a `CpuDef`, or `<cpu>` XML), alone or with a name and the host it runs on.
 */
export type FleetGuestInput =
  | FleetDomain
  | CpuDef
  | string
  | {
      /** Defaults to the domain's name, else `guest<N>`. */
      name?: string;
      guest: FleetDomain | CpuDef | string;
      /** The host the guest runs on now: migration verdicts are from there. */
      source?: string;
    };

export interface FleetOptions {
  /**
   * Host groups by name (host names). Default: one group per architecture
   * and CPU vendor among the hosts whose CPU is known.
   */
  groups?: Readonly<Record<string, readonly string[]>>;
  /** Compute the "what if it dropped this feature" answers (default true). */
  whatIf?: boolean;
}

export interface FleetInput {
  hosts: readonly FleetHostInput[];
  guests: readonly FleetGuestInput[];
  options?: FleetOptions;
}

/** Why a guest cannot go to a host. */
export type FleetBlockerKind =
  /** The guest needs the feature and the host (or its hypervisor's host-model CPU) lacks it. */
  | 'missing'
  /** The guest forbids the feature and the host has it. */
  | 'forbidden'
  /** The hypervisor reports the feature as blocking the guest's model on this host. */
  | 'hypervisor'
  /** Enabled in the guest, but the feature cannot survive a migration (e.g. `invtsc`). */
  | 'not-migratable'
  /** The guest asks for another CPU vendor. */
  | 'vendor'
  /** The guest is for another architecture. */
  | 'arch'
  /** The hypervisor does not support the guest's CPU mode. */
  | 'mode'
  /** The hypervisor does not offer the guest's model and fallback='forbid' allows no other. */
  | 'model'
  /** The host's CPU is unknown (its capabilities have no CPU model). */
  | 'host-cpu'
  /** host-passthrough / maximum guests move only between identical hosts. */
  | 'not-identical'
  /** The guest cannot run on its source host, so there is nothing to migrate. */
  | 'source';

export interface FleetBlocker {
  kind: FleetBlockerKind;
  /** The CPU feature at fault, for the feature kinds. */
  feature?: string;
  /** One sentence for people. */
  reason: string;
}

export interface FleetVerdict {
  ok: boolean;
  /** Empty when `ok`, except for `check='none'` guests, whose problems libvirt does not check. */
  blockers: FleetBlocker[];
}

export interface FleetCell {
  host: string;
  /** Whether the guest can be started on the host. */
  canStart: FleetVerdict;
  /** Whether the host can take the guest running on its source (`from`) by live migration. */
  canReceiveMigration: FleetVerdict & { from: string | undefined };
}

export interface FleetWhatIf {
  /** The feature the guest would drop (`policy='disable'`). */
  feature: string;
  /** Hosts it could then start on that it cannot today. */
  gainsStart: string[];
  /** Hosts that could then receive it that cannot today. */
  gainsMigration: string[];
}

export interface FleetGuestPlan {
  name: string;
  mode: CpuMode;
  /** The guest's model (custom), undefined for the host-based modes. */
  model: string | undefined;
  /** The host migration verdicts start from: the given source, else the first host it can start on. */
  source: string | undefined;
  /** One cell per host, in the order of `hosts`. */
  cells: FleetCell[];
  /** For each feature that blocks it somewhere: what dropping it would gain. */
  whatIf: FleetWhatIf[];
}

export interface FleetHostSummary {
  name: string;
  arch: string;
  vendor: string | undefined;
  /** The host CPU's model (capabilities), or the host-model CPU's when only domain capabilities were given. */
  model: string | undefined;
  /** The model of the hypervisor's host-model CPU, when domain capabilities were given. */
  hostModel: string | undefined;
  /** Problems with the host's documents that make every verdict on it negative. */
  problems: string[];
}

export interface FleetGroupPlan {
  name: string;
  hosts: string[];
  /** The guest CPU every member can run and migrate (`baselineCpu` with `migratable`). */
  baseline: CpuDef | undefined;
  /** The named model with the most features a `custom` guest can start with on every member. */
  bestModel: string | undefined;
  /** Why there is no baseline (different vendors, a member without a known CPU, ...). */
  error: { code: string; message: string } | undefined;
}

export interface FleetPlan {
  hosts: FleetHostSummary[];
  guests: FleetGuestPlan[];
  groups: FleetGroupPlan[];
}

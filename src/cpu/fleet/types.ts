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
  /** The host's `<capabilities>` (`virConnectGetCapabilities`), parsed or as XML: its host CPU is read. */
  capabilities?: Capabilities | string;
  /** The host's `<domainCapabilities>` (`virConnectGetDomainCapabilities`), parsed or as XML. */
  domainCapabilities?: DomainCapabilities | string;
  /** A host-style `<cpu>`; takes the place of the capabilities' host CPU. */
  cpu?: CpuDef | string;
}

/**
 * What the planner reads of a domain: a `DomainDef` is one (the planner
 * does not need, nor bundle, the rest of the domain model).
 */
export interface FleetDomain {
  /** The domain's `<name>`: the guest's name in the plan unless another is given. */
  name: string;
  /** The domain's `<cpu>`; without one, libvirt's default (`qemu64`, `check='none'`). */
  cpu?: CpuDef | undefined;
  /** The domain's `<os>`, of which only the guest's architecture is read. */
  os?:
    | {
        /** The `<type>` element of `<os>`. */
        type?:
          | {
              /** The guest's architecture (`x86_64`, `aarch64`, ...). */
              arch?: string | undefined;
            }
          | undefined;
      }
    | undefined;
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
      /** The domain definition or guest CPU, parsed or as XML. */
      guest: FleetDomain | CpuDef | string;
      /** The host the guest runs on now: migration verdicts are from there. */
      source?: string;
    };

/** How {@link planFleet} plans: the host groups and whether to answer "what if". */
export interface FleetOptions {
  /**
   * Host groups by name (host names). Default: one group per architecture
   * and CPU vendor among the hosts whose CPU is known.
   */
  groups?: Readonly<Record<string, readonly string[]>>;
  /** Compute the "what if it dropped this feature" answers (default true). */
  whatIf?: boolean;
}

/** What {@link planFleet} takes: the hosts and the guests to place on them. */
export interface FleetInput {
  /** The hosts, each with a unique name; the plan's columns are in this order. */
  hosts: readonly FleetHostInput[];
  /** The guests; the plan's rows are in this order. */
  guests: readonly FleetGuestInput[];
  /** Host groups and "what if" answers; the defaults when left out. */
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

/** One reason a guest cannot start on or migrate to a host. */
export interface FleetBlocker {
  /** What kind of reason it is. */
  kind: FleetBlockerKind;
  /** The CPU feature at fault, for the feature kinds. */
  feature?: string;
  /** One sentence for people. */
  reason: string;
}

/** A yes or no for one guest on one host, with the reasons for a no. */
export interface FleetVerdict {
  /** Whether the guest can (start, or be received by migration). */
  ok: boolean;
  /** Empty when `ok`, except for `check='none'` guests, whose problems libvirt does not check. */
  blockers: FleetBlocker[];
}

/** The verdicts for one guest on one host. */
export interface FleetCell {
  /** The host's name. */
  host: string;
  /** Whether the guest can be started on the host. */
  canStart: FleetVerdict;
  /** Whether the host can take the guest running on its source (`from`) by live migration. */
  canReceiveMigration: FleetVerdict & {
    /** The source host the verdict is from; undefined when the guest can start nowhere. */
    from: string | undefined;
  };
}

/** What a guest would gain by dropping one feature that blocks it. */
export interface FleetWhatIf {
  /** The feature the guest would drop (`policy='disable'`). */
  feature: string;
  /** Hosts it could then start on that it cannot today. */
  gainsStart: string[];
  /** Hosts that could then receive it that cannot today. */
  gainsMigration: string[];
}

/** The plan's row for one guest. */
export interface FleetGuestPlan {
  /** The guest's name (given, its domain's, or `guest<N>`). */
  name: string;
  /** The guest CPU's `mode` (`custom`, `host-model`, `host-passthrough`, `maximum`). */
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

/** What the planner read of one host. */
export interface FleetHostSummary {
  /** The host's name as given. */
  name: string;
  /** The host CPU's architecture (`x86_64`, ...), or the domain capabilities' `<arch>`. */
  arch: string;
  /** The host CPU's vendor (`Intel`, `AMD`, ...); undefined when unknown. */
  vendor: string | undefined;
  /** The host CPU's model (capabilities), or the host-model CPU's when only domain capabilities were given. */
  model: string | undefined;
  /** The model of the hypervisor's host-model CPU, when domain capabilities were given. */
  hostModel: string | undefined;
  /** Problems with the host's documents that make every verdict on it negative. */
  problems: string[];
}

/** The plan for one host group: the CPU a guest should have to run and migrate across it. */
export interface FleetGroupPlan {
  /** The group's name: given, or `<arch>/<vendor>` for the default groups. */
  name: string;
  /** The names of its hosts. */
  hosts: string[];
  /** The guest CPU every member can run and migrate (`baselineCpu` with `migratable`). */
  baseline: CpuDef | undefined;
  /** The named model with the most features a `custom` guest can start with on every member. */
  bestModel: string | undefined;
  /** Why there is no baseline (different vendors, a member without a known CPU, ...). */
  error:
    | {
        /** The `VirError` code, e.g. `CPU_INCOMPATIBLE`. */
        code: string;
        /** One sentence for people. */
        message: string;
      }
    | undefined;
}

/** What {@link planFleet} answers: every guest against every host, and a baseline per group. */
export interface FleetPlan {
  /** One summary per host, in input order. */
  hosts: FleetHostSummary[];
  /** One row per guest, in input order. */
  guests: FleetGuestPlan[];
  /** One plan per host group. */
  groups: FleetGroupPlan[];
}

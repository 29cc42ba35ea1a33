/**
 * The kinds of documents `validate()` knows and the shape of its answer,
 * shared by the entry (`validate.ts`) and the part loaded on first use
 * (`validate-engine.ts`).
 *
 * @module
 */

/** The document kinds we have schemas for, by root schema file. */
export const SCHEMA_KINDS = {
  /** `<capabilities>`: what a host and its hypervisor can run. */
  capability: 'capability.rng',
  /** `<domainCapabilities>`: what one emulator, machine and domain type support. */
  domaincaps: 'domaincaps.rng',
  /** `<domain>`: a guest definition. */
  domain: 'domain.rng',
  /** `<domainsnapshot>`: a domain snapshot. */
  domainsnapshot: 'domainsnapshot.rng',
  /** `<cpu>` on its own, host or guest form (`virsh cpu-compare` input). */
  cpu: 'cpu.rng',
  /** `<network>`: a virtual network. */
  network: 'network.rng',
  /** `<networkport>`: one port of a virtual network. */
  networkport: 'networkport.rng',
  /** `<device>`: a host device. */
  nodedev: 'nodedev.rng',
  /** `<secret>`: a secret's metadata. */
  secret: 'secret.rng',
  /** `<pool>`: a storage pool. */
  storagepool: 'storagepool.rng',
  /** `<volume>`: a storage volume. */
  storagevol: 'storagevol.rng',
} as const;

/** A document kind `validate()` has a schema for. */
export type SchemaKind = keyof typeof SCHEMA_KINDS;

/** One schema error, with the line it is on. */
export interface ValidationIssue {
  /** 1-based line in the validated document (0 when libxml2 gives none). */
  line: number;
  /** What is wrong: libxml2's words, or ours (with the column) for XML that is not well-formed. */
  message: string;
  /** libxml2's path to the node at fault, when it gives one. */
  path?: string;
}

/** `validate()`'s answer. */
export interface ValidationResult {
  /** Whether the document matches the schema. */
  valid: boolean;
  /** Why not, innermost cause first; empty when valid. */
  errors: ValidationIssue[];
}

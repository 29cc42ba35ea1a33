/**
 * The kinds of documents `validate()` knows and the shape of its answer,
 * shared by the entry (`validate.ts`) and the part loaded on first use
 * (`validate-engine.ts`).
 *
 * @module
 */

/** The document kinds we have schemas for, by root schema file. */
export const SCHEMA_KINDS = {
  capability: 'capability.rng',
  domaincaps: 'domaincaps.rng',
  domain: 'domain.rng',
  cpu: 'cpu.rng',
  network: 'network.rng',
  nodedev: 'nodedev.rng',
  secret: 'secret.rng',
  storagepool: 'storagepool.rng',
  storagevol: 'storagevol.rng',
} as const;

export type SchemaKind = keyof typeof SCHEMA_KINDS;

export interface ValidationIssue {
  /** 1-based line in the validated document (0 when libxml2 gives none). */
  line: number;
  message: string;
  /** libxml2's path to the node at fault, when it gives one. */
  path?: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: ValidationIssue[];
}

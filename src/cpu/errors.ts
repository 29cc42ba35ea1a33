/**
 * The ways the CPU engine fails, each a {@link CpuError}: a {@link VirError}
 * that also says *why* in a stable {@link CpuErrorReason} and names the model,
 * feature or vendor at fault. libvirt reports several of these with one
 * error code (an unknown model and an unknown feature are both its internal
 * error), so the code alone cannot tell a caller, or a conformance check,
 * which rule was broken; the reason can.
 *
 * @module
 */
import { VirError, type VirErrorCode } from '../errors.js';

/** Every rule the CPU engine can report broken, as `CpuError.reason`. */
export const CPU_ERROR_REASONS = [
  /** A model name the CPU map does not define. */
  'unknown-model',
  /** A feature name the CPU map does not define. */
  'unknown-feature',
  /** A vendor name the CPU map does not define. */
  'unknown-vendor',
  /** CPUs (or a CPU and its own model) of different vendors where one vendor is needed. */
  'vendor-mismatch',
  /** The CPUs cannot be reconciled: nothing in common, or the guest needs what the host lacks. */
  'incompatible',
  /** The hypervisor does not offer the model and `fallback='forbid'` allows no other. */
  'model-not-supported',
  /** None of the models allowed fits the CPU data. */
  'no-suitable-model',
  /** The operation needs the host's CPU model and the host has none. */
  'unknown-host-model',
  /** A guest CPU without a model where one is needed. */
  'no-model',
  /** A CPU architecture the engine has no database for. */
  'unsupported-arch',
  /** A mode the operation cannot work with (e.g. comparing host-model without a hypervisor). */
  'unsupported-mode',
] as const;

/** One of `CPU_ERROR_REASONS`. */
export type CpuErrorReason = (typeof CPU_ERROR_REASONS)[number];

export interface CpuErrorDetails {
  /** The model, feature or vendor name at fault. */
  subject?: string;
  /** Where in the CPU definition, e.g. `model` or `feature[@name='x']`. */
  field?: string;
}

/** A failure of the CPU engine: a VirError with the rule that was broken. */
export class CpuError extends VirError {
  /** Which rule was broken, finer than the error code. */
  readonly reason: CpuErrorReason;
  /** The model, feature or vendor name at fault. */
  readonly subject: string | undefined;

  constructor(code: VirErrorCode, reason: CpuErrorReason, message: string, details: CpuErrorDetails = {}) {
    super(code, 'cpu', message, details.field === undefined ? {} : { field: details.field });
    this.reason = reason;
    this.subject = details.subject;
  }

  override toJSON(): Record<string, unknown> {
    const out = super.toJSON();
    out.reason = this.reason;
    if (this.subject !== undefined) out.subject = this.subject;
    return out;
  }
}

/** True when `err` is a {@link CpuError}, optionally for the given reason. */
export function isCpuError(err: unknown, reason?: CpuErrorReason): err is CpuError {
  return err instanceof CpuError && (reason === undefined || err.reason === reason);
}

export function unknownModel(name: string): CpuError {
  return new CpuError('INVALID_ARG', 'unknown-model', `unknown CPU model '${name}'`, {
    subject: name,
    field: 'model',
  });
}

export function unknownFeature(name: string): CpuError {
  return new CpuError('INVALID_ARG', 'unknown-feature', `unknown CPU feature '${name}'`, {
    subject: name,
    field: `feature[@name='${name}']`,
  });
}

export function unknownVendor(name: string): CpuError {
  return new CpuError('INVALID_ARG', 'unknown-vendor', `unknown CPU vendor '${name}'`, {
    subject: name,
    field: 'vendor',
  });
}

export function vendorMismatch(message: string, field: string, vendor?: string): CpuError {
  return new CpuError('CPU_INCOMPATIBLE', 'vendor-mismatch', message, {
    field,
    ...(vendor === undefined ? {} : { subject: vendor }),
  });
}

export function incompatible(message: string): CpuError {
  return new CpuError('CPU_INCOMPATIBLE', 'incompatible', message);
}

export function modelNotSupported(name: string): CpuError {
  return new CpuError(
    'CONFIG_UNSUPPORTED',
    'model-not-supported',
    `CPU model ${name} is not supported by hypervisor`,
    {
      subject: name,
      field: 'model',
    },
  );
}

export function noSuitableModel(): CpuError {
  return new CpuError(
    'CONFIG_UNSUPPORTED',
    'no-suitable-model',
    'cannot find a suitable CPU model for the given data',
  );
}

export function unknownHostModel(): CpuError {
  return new CpuError('CONFIG_UNSUPPORTED', 'unknown-host-model', 'unknown host CPU model');
}

export function noModel(): CpuError {
  return new CpuError('INVALID_ARG', 'no-model', 'no guest CPU model specified', { field: 'model' });
}

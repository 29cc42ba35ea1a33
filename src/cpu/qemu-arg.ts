/**
 * The QEMU `-cpu` argument for a guest CPU, spelled the way libvirt spells
 * it: `Model,feat=on,feat=off` for a custom CPU (features in definition
 * order, QEMU's feature names), `host,migratable=on` for host-passthrough,
 * `max` for maximum.
 *
 * About `enforce`: with it QEMU refuses to start when the host cannot give a
 * requested feature. libvirt does not pass it; it starts the guest paused,
 * reads back what QEMU enabled (see `updateCpuLive`) and, for check='full',
 * fails when that differs. Pass `{ enforce: true }` to let QEMU do the check
 * itself instead.
 *
 * @module
 */
import type { CpuDef } from '../conf/cpu.js';
import { VirError } from '../errors.js';
import { unknownFeature, unknownModel } from './errors.js';
import type { ResolvedCpu } from './resolve.js';
import { type X86Database, type X86Feature, x86Database } from './x86-db.js';

/** How `qemuCpuArg` spells the `-cpu` value. */
export interface QemuCpuArgOptions {
  /** `on-off` (default, as libvirt writes): `feat=on`; `plus-minus`: `+feat` / `-feat`. */
  style?: 'on-off' | 'plus-minus';
  /** Append `enforce`: QEMU fails to start when a requested feature is unavailable. */
  enforce?: boolean;
  /**
   * Feature names (QEMU spelling) the QEMU binary knows, e.g. from its CPU
   * model expansion; features outside it are left out rather than make
   * QEMU fail. All features are passed when omitted.
   */
  qemuFeatures?: ReadonlySet<string>;
  /** For host-passthrough: emit `migratable=on` (default true, as libvirt does with QEMU ≥ 2.11). */
  migratable?: boolean;
}

// QEMU names features with dashes where libvirt kept its older underscores; the map's
// QEMU aliases say which. `pclmuldq` is the one libvirt spelling QEMU writes differently.
const QEMU_SPELLING: Record<string, string> = { pclmuldq: 'pclmulqdq' };

/** QEMU's spelling of a libvirt feature name. */
export function qemuFeatureName(feature: X86Feature | string, db: X86Database = x86Database()): string {
  const f = typeof feature === 'string' ? db.feature(feature) : feature;
  if (!f) throw unknownFeature(String(feature));
  const special = QEMU_SPELLING[f.name];
  if (special) return special;
  const dashed = f.name.replace(/_/g, '-');
  if (dashed !== f.name && f.aliases.includes(dashed)) return dashed;
  return f.name;
}

/** Escapes a value inside a QEMU option list (a comma is doubled); newlines are refused. */
function optionValue(value: string, field: string): string {
  if (/[\n\r\0]/.test(value)) {
    throw new VirError('INVALID_ARG', 'cpu', `${field} contains a control character and cannot reach QEMU`, {
      field,
    });
  }
  return value.replace(/,/g, ',,');
}

/**
 * The `-cpu` value for a resolved guest CPU (from `resolveGuestCpu`) or a
 * CPU definition already in its final form (custom model + features,
 * host-passthrough or maximum).
 */
export function qemuCpuArg(input: ResolvedCpu | CpuDef, options: QemuCpuArgOptions = {}): string {
  const cpu: CpuDef = 'violations' in input ? input.cpu : input;
  const db = x86Database();
  const parts: string[] = [];
  const flag = (name: string, on: boolean) => {
    if (options.qemuFeatures && !options.qemuFeatures.has(name)) return;
    parts.push(options.style === 'plus-minus' ? `${on ? '+' : '-'}${name}` : `${name}=${on ? 'on' : 'off'}`);
  };
  const mode = cpu.mode ?? 'custom';
  if (mode === 'host-passthrough' || mode === 'maximum') {
    parts.push(mode === 'maximum' ? 'max' : 'host');
    if (options.migratable !== false && cpu.migratable !== false) parts.push('migratable=on');
    else if (cpu.migratable === false) parts.push('migratable=off');
    if (cpu.cache?.mode === 'passthrough') parts.push('host-cache-info=on', 'l3-cache=off');
    else if (cpu.cache?.mode === 'disable') parts.push('l3-cache=off');
    else if (cpu.cache?.mode === 'emulate' && cpu.cache.level === 3) parts.push('l3-cache=on');
    if (cpu.maxPhysAddr?.mode === 'emulate') {
      parts.push('host-phys-bits=off');
      if (cpu.maxPhysAddr.bits !== undefined) parts.push(`phys-bits=${cpu.maxPhysAddr.bits}`);
    } else if (cpu.maxPhysAddr?.mode === 'passthrough') {
      parts.push('host-phys-bits=on');
      if (cpu.maxPhysAddr.limit !== undefined) parts.push(`host-phys-bits-limit=${cpu.maxPhysAddr.limit}`);
    }
  } else {
    const model = cpu.model?.name;
    if (!model) {
      throw new VirError(
        'INVALID_ARG',
        'cpu',
        `a ${mode} CPU must be resolved to a model before building -cpu`,
        {
          field: 'model',
        },
      );
    }
    if (!db.model(model)) throw unknownModel(model);
    parts.push(optionValue(model, 'model'));
    if (cpu.model?.vendorId) parts.push(`vendor=${optionValue(cpu.model.vendorId, 'model/@vendor_id')}`);
  }
  for (const f of cpu.features ?? []) {
    const feature = db.feature(f.name);
    if (!feature) throw unknownFeature(f.name);
    const name = qemuFeatureName(feature, db);
    switch (f.policy ?? 'require') {
      case 'force':
      case 'require':
        flag(name, true);
        break;
      case 'disable':
      case 'forbid':
        flag(name, false);
        break;
      case 'optional':
        break;
    }
  }
  if (options.enforce) parts.push('enforce');
  return parts.join(',');
}

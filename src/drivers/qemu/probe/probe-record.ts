/**
 * Files one QMP answer into {@link ProbeData}: the single place that knows
 * which command fills which field, shared by the live probe and replay.
 *
 * @module
 */
import type {
  AccelProbeData,
  ProbeData,
  QmpCpuDefinition,
  QmpCpuModelExpansion,
  QmpMachineInfo,
} from './probe-data.js';

export function recordAnswer(
  data: ProbeData,
  accel: AccelProbeData,
  command: string,
  args: Record<string, unknown> | undefined,
  ret: unknown,
): void {
  switch (command) {
    case 'query-version':
      data.version = ret as NonNullable<ProbeData['version']>;
      break;
    case 'query-target':
      data.target = ret as NonNullable<ProbeData['target']>;
      break;
    case 'query-kvm':
      data.kvm = ret as NonNullable<ProbeData['kvm']>;
      break;
    case 'query-commands':
      data.commands = names(ret, 'name');
      break;
    case 'query-qmp-schema': {
      // The schema lists every command and event by name (meta-type), which
      // spares a separate query-commands.
      const commands: string[] = [];
      const events: string[] = [];
      for (const e of array(ret)) {
        if (!isRecord(e) || typeof e.name !== 'string') continue;
        if (e['meta-type'] === 'command') commands.push(e.name);
        else if (e['meta-type'] === 'event') events.push(e.name);
        else if (e['meta-type'] === 'enum') {
          // Enum type names are anonymised in the introspection; the value sets identify them.
          const values = enumValues(e);
          if (
            values.includes('default') &&
            values.includes('none') &&
            DISPLAY_HINTS.some((d) => values.includes(d))
          ) {
            data.displayTypes = values;
          } else if (values.includes('user') && values.includes('tap') && values.includes('socket')) {
            data.netdevTypes = values;
          }
        }
      }
      data.commands = commands;
      data.events = events;
      data.qmpSchema = array(ret);
      break;
    }
    case 'qom-list-types':
      data.qomTypes = names(ret, 'name');
      break;
    case 'device-list-properties':
    case 'qom-list-properties': {
      const type = args?.typename;
      if (typeof type === 'string') {
        data.typeProps ??= {};
        data.typeProps[type] = names(ret, 'name');
        const defaults: Record<string, unknown> = {};
        for (const p of array(ret)) {
          if (isRecord(p) && typeof p.name === 'string' && 'default-value' in p)
            defaults[p.name] = p['default-value'];
        }
        if (Object.keys(defaults).length > 0) {
          data.typePropDefaults ??= {};
          data.typePropDefaults[type] = defaults;
        }
      }
      break;
    }
    case 'query-tpm-models':
      data.tpmModels = strings(ret);
      break;
    case 'query-tpm-types':
      data.tpmTypes = strings(ret);
      break;
    case 'query-command-line-options': {
      const out: Record<string, string[]> = {};
      for (const o of array(ret)) {
        const opt = o as { option?: unknown; parameters?: unknown };
        if (typeof opt.option === 'string') out[opt.option] = names(opt.parameters, 'name');
      }
      data.commandLineOptions = out;
      break;
    }
    case 'query-migrate-capabilities':
      data.migrationCapabilities = names(ret, 'capability');
      break;
    case 'query-gic-capabilities':
      data.gic = array(ret)
        .filter(isRecord)
        .map((g) => ({
          version: Number(g.version),
          kernel: g.kernel === true,
          emulated: g.emulated === true,
        }));
      break;
    case 'query-sev-capabilities':
      data.sev = isRecord(ret) ? ret : null;
      break;
    case 'query-sgx-capabilities':
      data.sgx = isRecord(ret) ? ret : null;
      break;
    case 'query-machines':
      accel.machines = array(ret).filter(isRecord) as unknown as QmpMachineInfo[];
      break;
    case 'query-cpu-definitions':
      accel.cpuDefinitions = array(ret).filter(isRecord) as unknown as QmpCpuDefinition[];
      break;
    case 'query-cpu-model-expansion': {
      if (!isRecord(ret) || !isRecord(ret.model)) break;
      const expansion = ret as unknown as QmpCpuModelExpansion;
      const model = isRecord(args?.model) ? args.model : {};
      const props = isRecord(model.props) ? model.props : {};
      if (args?.type === 'full') {
        // Full expansions answer side questions: Hyper-V (with hv-passthrough) or deprecated features.
        if (props['hv-passthrough'] === true) accel.hostExpansionFull = expansion;
        else if (Array.isArray(ret['deprecated-props']))
          accel.deprecatedProps = strings(ret['deprecated-props']);
      } else if (props.migratable === false) accel.hostExpansionAll = expansion;
      else accel.hostExpansion = expansion;
      break;
    }
    default:
      break;
  }
}

const DISPLAY_HINTS = ['gtk', 'sdl', 'egl-headless', 'curses', 'dbus', 'spice-app', 'cocoa'];

/** Values of an introspected enum: `values` (older QEMU) or `members[].name`. */
function enumValues(e: Record<string, unknown>): string[] {
  const fromMembers = names(e.members, 'name');
  return fromMembers.length > 0 ? fromMembers : strings(e.values);
}

function array(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function strings(v: unknown): string[] {
  return array(v).filter((s): s is string => typeof s === 'string');
}

function names(v: unknown, key: string): string[] {
  const out: string[] = [];
  for (const e of array(v)) if (isRecord(e) && typeof e[key] === 'string') out.push(e[key]);
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

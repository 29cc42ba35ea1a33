/**
 * QEMU's QMP events as libvirt's domain events, the way libvirt's QEMU
 * driver handles them (its monitor callbacks): RTC_CHANGE, WATCHDOG,
 * BLOCK_IO_ERROR (io-error and io-error-reason), VNC and SPICE client
 * events (graphics), BLOCK_JOB_* (block-job and block-job-2),
 * DEVICE_TRAY_MOVED, SUSPEND / SUSPEND_DISK / WAKEUP (pm-*), BALLOON_CHANGE
 * (KiB), DEVICE_DELETED and DEVICE_UNPLUG_GUEST_ERROR, MIGRATION_PASS,
 * MEMORY_FAILURE, MEMORY_DEVICE_SIZE_CHANGE, BLOCK_WRITE_THRESHOLD and the
 * guest agent's VSERPORT_CHANGE. Lifecycle and reboot events come from the
 * runner's state machine (`runner-core.ts`), not from here.
 *
 * Disks are named as libvirt names them (alias, source path, target) when
 * the caller maps QEMU's node or job name to a disk (`domains/disk-nodes.ts`),
 * else as QEMU names them: the device's id when QEMU gives one, else the node.
 *
 * @module
 */
import type {
  AnyDomainEvent,
  BlockJobStatus,
  BlockJobType,
  DomainRef,
  GraphicsAddress,
  WatchdogAction,
} from '../../../domain-events.js';
import type { QmpEvent } from '../qmp/index.js';

/** What the mapping needs to know of the guest beyond the event. */
export interface EventGuest {
  readonly domain: DomainRef;
  /** The qdev ids of the guest agent's ports (`org.qemu.guest_agent.0` channels). */
  readonly agentPorts?: ReadonlySet<string>;
  /** A disk's target (`vda`), source path and alias by its alias, node or job name, when known. */
  readonly disk?: (
    name: string,
  ) => { readonly target: string; readonly path: string; readonly alias: string } | undefined;
}

const WATCHDOG: Record<string, WatchdogAction> = {
  none: 'none',
  pause: 'pause',
  reset: 'reset',
  poweroff: 'poweroff',
  shutdown: 'shutdown',
  debug: 'debug',
  'inject-nmi': 'inject-nmi',
};
const IO_ACTION = { ignore: 'none', stop: 'pause', report: 'report' } as const;
const JOB_TYPE: Record<string, BlockJobType> = {
  stream: 'pull',
  mirror: 'copy',
  commit: 'commit',
  backup: 'backup',
};
const GRAPHICS_PHASE = {
  VNC_CONNECTED: 'connect',
  VNC_INITIALIZED: 'initialize',
  VNC_DISCONNECTED: 'disconnect',
  SPICE_CONNECTED: 'connect',
  SPICE_INITIALIZED: 'initialize',
  SPICE_DISCONNECTED: 'disconnect',
} as const;

/** The domain events one QMP event stands for (none for most). */
export function domainEventsOf(ev: QmpEvent, guest: EventGuest): AnyDomainEvent[] {
  const d = ev.data ?? {};
  const base = { domain: guest.domain, timestamp: Date.now() };
  switch (ev.event) {
    case 'RTC_CHANGE':
      return num(d.offset) === undefined
        ? []
        : [{ ...base, type: 'rtc-change', utcoffset: num(d.offset) as number }];
    case 'WATCHDOG': {
      const action = WATCHDOG[str(d.action)];
      return action ? [{ ...base, type: 'watchdog', action }] : [];
    }
    case 'BLOCK_IO_ERROR': {
      const action = IO_ACTION[str(d.action) as keyof typeof IO_ACTION];
      if (!action) return [];
      const name = str(d.device) || str(d['node-name']);
      const disk = guest.disk?.(name);
      // libvirt names the disk by its alias and source (the node when no disk has it)
      const common = { ...base, srcPath: disk?.path ?? '', devAlias: disk?.alias ?? name, action };
      return [
        { ...common, type: 'io-error' },
        { ...common, type: 'io-error-reason', reason: d.nospace === true ? 'enospc' : '' },
      ];
    }
    case 'VNC_CONNECTED':
    case 'VNC_INITIALIZED':
    case 'VNC_DISCONNECTED':
    case 'SPICE_CONNECTED':
    case 'SPICE_INITIALIZED':
    case 'SPICE_DISCONNECTED': {
      const server = obj(d.server);
      const client = obj(d.client);
      const subject: { type: string; name: string }[] = [];
      if (str(client.x509_dname)) subject.push({ type: 'x509dname', name: str(client.x509_dname) });
      if (str(client.sasl_username)) subject.push({ type: 'saslUsername', name: str(client.sasl_username) });
      return [
        {
          ...base,
          type: 'graphics',
          phase: GRAPHICS_PHASE[ev.event],
          local: address(server),
          remote: address(client),
          authScheme: str(server.auth),
          subject,
        },
      ];
    }
    case 'BLOCK_JOB_COMPLETED':
    case 'BLOCK_JOB_CANCELLED':
    case 'BLOCK_JOB_READY': {
      const status: BlockJobStatus =
        ev.event === 'BLOCK_JOB_READY'
          ? 'ready'
          : ev.event === 'BLOCK_JOB_CANCELLED'
            ? 'canceled'
            : d.error !== undefined
              ? 'failed'
              : 'completed';
      const name = str(d.device);
      const disk = guest.disk?.(name);
      const jobType = JOB_TYPE[str(d.type)] ?? 'unknown';
      return [
        { ...base, type: 'block-job', disk: disk?.path || name, jobType, status },
        { ...base, type: 'block-job-2', disk: disk?.target ?? name, jobType, status },
      ];
    }
    case 'DEVICE_TRAY_MOVED':
      return [
        {
          ...base,
          type: 'tray-change',
          devAlias: str(d.id) || str(d.device),
          reason: d['tray-open'] === true ? 'open' : 'close',
        },
      ];
    case 'SUSPEND':
      return [{ ...base, type: 'pm-suspend', reason: 0 }];
    case 'SUSPEND_DISK':
      return [{ ...base, type: 'pm-suspend-disk', reason: 0 }];
    case 'WAKEUP':
      return [{ ...base, type: 'pm-wakeup', reason: 0 }];
    case 'BALLOON_CHANGE':
      return num(d.actual) === undefined
        ? []
        : [{ ...base, type: 'balloon-change', actual: Math.floor((num(d.actual) as number) / 1024) }];
    case 'DEVICE_DELETED':
      // Only devices with an id are the definition's (libvirt ignores the others: backends, parts).
      return str(d.device) ? [{ ...base, type: 'device-removed', devAlias: str(d.device) }] : [];
    case 'DEVICE_UNPLUG_GUEST_ERROR':
      return str(d.device) ? [{ ...base, type: 'device-removal-failed', devAlias: str(d.device) }] : [];
    case 'ACPI_DEVICE_OST': {
      const alias = acpiEjectRefused(d);
      return alias ? [{ ...base, type: 'device-removal-failed', devAlias: alias }] : [];
    }
    case 'MIGRATION_PASS':
      return num(d.pass) === undefined
        ? []
        : [{ ...base, type: 'migration-iteration', iteration: num(d.pass) as number }];
    case 'MEMORY_FAILURE': {
      const flags = obj(d.flags);
      const recipient = str(d.recipient) === 'guest' ? 'guest' : 'hypervisor';
      const a = str(d.action);
      if (a !== 'ignore' && a !== 'inject' && a !== 'fatal' && a !== 'reset') return [];
      return [
        {
          ...base,
          type: 'memory-failure',
          recipient,
          action: a,
          actionRequired: flags['action-required'] === true,
          recursive: flags.recursive === true,
        },
      ];
    }
    case 'MEMORY_DEVICE_SIZE_CHANGE':
      return str(d.id) && num(d.size) !== undefined
        ? [
            {
              ...base,
              type: 'memory-device-size-change',
              alias: str(d.id),
              size: Math.floor((num(d.size) as number) / 1024),
            },
          ]
        : [];
    case 'BLOCK_WRITE_THRESHOLD': {
      const node = str(d['node-name']);
      const disk = guest.disk?.(node);
      return [
        {
          ...base,
          type: 'block-threshold',
          dev: disk?.target ?? node,
          path: disk?.path ?? '',
          threshold: BigInt(num(d['write-threshold']) ?? 0),
          excess: BigInt(num(d['amount-exceeded']) ?? 0),
        },
      ];
    }
    case 'VSERPORT_CHANGE':
      return guest.agentPorts?.has(str(d.id))
        ? [
            {
              ...base,
              type: 'agent-lifecycle',
              state: d.open === true ? 'connected' : 'disconnected',
              reason: 'channel',
            },
          ]
        : [];
    default:
      return [];
  }
}

function address(o: Record<string, unknown>): GraphicsAddress {
  const f = str(o.family);
  const family = f === 'ipv6' ? 'ipv6' : f === 'unix' ? 'unix' : 'ipv4';
  return { family, node: str(o.host), service: str(o.service) };
}

/**
 * The DIMM whose eject the guest refused, from ACPI_DEVICE_OST's data, as
 * libvirt reads the _OST report: an eject event (0x003, or 0x103 from the
 * OS) with a failure status (0x01, or 0x80 to 0x83).
 */
export function acpiEjectRefused(data: Record<string, unknown> | undefined): string | undefined {
  const info = obj(data?.info);
  const source = num(info.source);
  const status = num(info.status);
  if (!str(info.device) || info['slot-type'] !== 'DIMM' || source === undefined || status === undefined)
    return undefined;
  const eject = source === 0x003 || source === 0x103;
  const failed = status === 0x01 || (status >= 0x80 && status <= 0x83);
  return eject && failed ? str(info.device) : undefined;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

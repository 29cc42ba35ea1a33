/**
 * The daemon's domain event messages, decoded into our typed events: one
 * entry per `REMOTE_PROC_DOMAIN_EVENT_CALLBACK_*` message (and the callback
 * forms without that prefix: block-job-2, block-threshold, memory-failure,
 * memory-device-size-change), numbers turned into libvirt's enum names.
 *
 * @module
 */
import type {
  AnyDomainEvent,
  BlockJobStatus,
  BlockJobType,
  GraphicsAddress,
  IoErrorAction,
  MetadataKind,
  TypedParamValue,
  WatchdogAction,
} from '../../domain-events.js';
import { detailName, eventName } from './domain-names.js';
import * as G from './gen/remote-protocol.js';
import { toRef } from './remote-values.js';
import type { XdrReader } from './xdr-reader.js';

const P = G.remoteProcedures;

const WATCHDOG: readonly WatchdogAction[] = [
  'none',
  'pause',
  'reset',
  'poweroff',
  'shutdown',
  'debug',
  'inject-nmi',
];
const IO_ACTION: readonly IoErrorAction[] = ['none', 'pause', 'report'];
const PHASE = ['connect', 'initialize', 'disconnect'] as const;
const FAMILY = ['ipv4', 'ipv6', 'unix'] as const;
const JOB_TYPE: readonly BlockJobType[] = ['unknown', 'pull', 'copy', 'commit', 'active-commit', 'backup'];
const JOB_STATUS: readonly BlockJobStatus[] = ['completed', 'failed', 'canceled', 'ready'];
const DISK_REASON = ['missing-on-start', 'drop-missing-on-start'] as const;
const METADATA: readonly MetadataKind[] = ['description', 'title', 'element'];
const AGENT_STATE = [undefined, 'connected', 'disconnected'] as const;
const AGENT_REASON = ['unknown', 'domain-started', 'channel'] as const;
const MF_ACTION = ['ignore', 'inject', 'fatal', 'reset'] as const;

type Decode = (r: XdrReader, now: number) => AnyDomainEvent | undefined;

function at<T>(list: readonly T[], n: number, fallback: T): T {
  return list[n] ?? fallback;
}

function address(a: G.RemoteDomainEventGraphicsAddress): GraphicsAddress {
  return { family: at(FAMILY, a.family, 'ipv4'), node: a.node, service: a.service };
}

function params(list: readonly G.RemoteTypedParam[]): Record<string, TypedParamValue> {
  const out: Record<string, TypedParamValue> = {};
  for (const p of list) {
    const v = p.value;
    out[p.field] =
      v.type === 1
        ? v.i
        : v.type === 2
          ? v.ui
          : v.type === 3
            ? v.l
            : v.type === 4
              ? v.ul
              : v.type === 5
                ? v.d
                : v.type === 6
                  ? v.b !== 0
                  : v.s;
  }
  return out;
}

/** The message decoders by procedure number. */
const DECODERS = new Map<number, Decode>([
  [P.DOMAIN_EVENT_LIFECYCLE.procedure, (r, now) => lifecycle(G.decRemoteDomainEventLifecycleMsg(r), now)],
  [
    P.DOMAIN_EVENT_CALLBACK_LIFECYCLE.procedure,
    (r, now) => lifecycle(G.decRemoteDomainEventCallbackLifecycleMsg(r).msg, now),
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_REBOOT.procedure,
    (r, now) => ({
      type: 'reboot',
      domain: toRef(G.decRemoteDomainEventCallbackRebootMsg(r).msg.dom),
      timestamp: now,
    }),
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_RTC_CHANGE.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackRtcChangeMsg(r).msg;
      return { type: 'rtc-change', domain: toRef(m.dom), timestamp: now, utcoffset: Number(m.offset) };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_WATCHDOG.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackWatchdogMsg(r).msg;
      return {
        type: 'watchdog',
        domain: toRef(m.dom),
        timestamp: now,
        action: at(WATCHDOG, m.action, 'none'),
      };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_IO_ERROR.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackIoErrorMsg(r).msg;
      const action = at(IO_ACTION, m.action, 'none');
      return {
        type: 'io-error',
        domain: toRef(m.dom),
        timestamp: now,
        srcPath: m.srcPath,
        devAlias: m.devAlias,
        action,
      };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackIoErrorReasonMsg(r).msg;
      return {
        type: 'io-error-reason',
        domain: toRef(m.dom),
        timestamp: now,
        srcPath: m.srcPath,
        devAlias: m.devAlias,
        action: at(IO_ACTION, m.action, 'none'),
        reason: m.reason,
      };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_GRAPHICS.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackGraphicsMsg(r).msg;
      return {
        type: 'graphics',
        domain: toRef(m.dom),
        timestamp: now,
        phase: at(PHASE, m.phase, 'connect'),
        local: address(m.local),
        remote: address(m.remote),
        authScheme: m.authScheme,
        subject: m.subject.map((s) => ({ type: s.type, name: s.name })),
      };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_CONTROL_ERROR.procedure,
    (r, now) => ({
      type: 'control-error',
      domain: toRef(G.decRemoteDomainEventCallbackControlErrorMsg(r).msg.dom),
      timestamp: now,
    }),
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_BLOCK_JOB.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackBlockJobMsg(r).msg;
      const jobType = at(JOB_TYPE, m.type, 'unknown');
      const status = at(JOB_STATUS, m.status, 'failed');
      return { type: 'block-job', domain: toRef(m.dom), timestamp: now, disk: m.path, jobType, status };
    },
  ],
  [
    P.DOMAIN_EVENT_BLOCK_JOB_2.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventBlockJob2Msg(r);
      const jobType = at(JOB_TYPE, m.type, 'unknown');
      const status = at(JOB_STATUS, m.status, 'failed');
      return { type: 'block-job-2', domain: toRef(m.dom), timestamp: now, disk: m.dst, jobType, status };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_DISK_CHANGE.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackDiskChangeMsg(r).msg;
      return {
        type: 'disk-change',
        domain: toRef(m.dom),
        timestamp: now,
        oldSrcPath: m.oldSrcPath ?? '',
        newSrcPath: m.newSrcPath ?? '',
        devAlias: m.devAlias,
        reason: at(DISK_REASON, m.reason, 'missing-on-start'),
      };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_TRAY_CHANGE.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackTrayChangeMsg(r).msg;
      const reason = m.reason === 1 ? 'close' : 'open';
      return { type: 'tray-change', domain: toRef(m.dom), timestamp: now, devAlias: m.devAlias, reason };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_PMWAKEUP.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackPmwakeupMsg(r);
      return { type: 'pm-wakeup', domain: toRef(m.msg.dom), timestamp: now, reason: m.reason };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_PMSUSPEND.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackPmsuspendMsg(r);
      return { type: 'pm-suspend', domain: toRef(m.msg.dom), timestamp: now, reason: m.reason };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_PMSUSPEND_DISK.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackPmsuspendDiskMsg(r);
      return { type: 'pm-suspend-disk', domain: toRef(m.msg.dom), timestamp: now, reason: m.reason };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_BALLOON_CHANGE.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackBalloonChangeMsg(r).msg;
      return { type: 'balloon-change', domain: toRef(m.dom), timestamp: now, actual: Number(m.actual) };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackDeviceRemovedMsg(r).msg;
      return { type: 'device-removed', domain: toRef(m.dom), timestamp: now, devAlias: m.devAlias };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_DEVICE_ADDED.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackDeviceAddedMsg(r);
      return { type: 'device-added', domain: toRef(m.dom), timestamp: now, devAlias: m.devAlias };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_DEVICE_REMOVAL_FAILED.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackDeviceRemovalFailedMsg(r);
      return { type: 'device-removal-failed', domain: toRef(m.dom), timestamp: now, devAlias: m.devAlias };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_TUNABLE.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackTunableMsg(r);
      return { type: 'tunable', domain: toRef(m.dom), timestamp: now, params: params(m.params) };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackAgentLifecycleMsg(r);
      const state = at(AGENT_STATE, m.state, undefined);
      if (!state) return undefined;
      const reason = at(AGENT_REASON, m.reason, 'unknown');
      return { type: 'agent-lifecycle', domain: toRef(m.dom), timestamp: now, state, reason };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackMigrationIterationMsg(r);
      return { type: 'migration-iteration', domain: toRef(m.dom), timestamp: now, iteration: m.iteration };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_JOB_COMPLETED.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackJobCompletedMsg(r);
      return { type: 'job-completed', domain: toRef(m.dom), timestamp: now, params: params(m.params) };
    },
  ],
  [
    P.DOMAIN_EVENT_CALLBACK_METADATA_CHANGE.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventCallbackMetadataChangeMsg(r);
      const kind = at(METADATA, m.type, 'element');
      return {
        type: 'metadata-change',
        domain: toRef(m.dom),
        timestamp: now,
        kind,
        ...(m.nsuri !== null && m.nsuri !== undefined ? { nsuri: m.nsuri } : {}),
      };
    },
  ],
  [
    P.DOMAIN_EVENT_BLOCK_THRESHOLD.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventBlockThresholdMsg(r);
      return {
        type: 'block-threshold',
        domain: toRef(m.dom),
        timestamp: now,
        dev: m.dev,
        path: m.path ?? '',
        threshold: m.threshold,
        excess: m.excess,
      };
    },
  ],
  [
    P.DOMAIN_EVENT_MEMORY_FAILURE.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventMemoryFailureMsg(r);
      return {
        type: 'memory-failure',
        domain: toRef(m.dom),
        timestamp: now,
        recipient: m.recipient === 1 ? 'guest' : 'hypervisor',
        action: at(MF_ACTION, m.action, 'ignore'),
        actionRequired: (m.flags & 1) !== 0,
        recursive: (m.flags & 2) !== 0,
      };
    },
  ],
  [
    P.DOMAIN_EVENT_MEMORY_DEVICE_SIZE_CHANGE.procedure,
    (r, now) => {
      const m = G.decRemoteDomainEventMemoryDeviceSizeChangeMsg(r);
      return {
        type: 'memory-device-size-change',
        domain: toRef(m.dom),
        timestamp: now,
        alias: m.alias,
        size: Number(m.size),
      };
    },
  ],
]);

function lifecycle(
  m: { dom: G.RemoteNonnullDomain; event: number; detail: number },
  now: number,
): AnyDomainEvent | undefined {
  const event = eventName(m.event);
  if (!event) return undefined;
  return {
    type: 'lifecycle',
    domain: toRef(m.dom),
    event,
    detail: detailName(event, m.detail),
    timestamp: now,
  };
}

/** The event a daemon message carries; undefined for a message that is no domain event. */
export function decodeDomainEvent(proc: number, body: XdrReader): AnyDomainEvent | undefined {
  return DECODERS.get(proc)?.(body, Date.now());
}

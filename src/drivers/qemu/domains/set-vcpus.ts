/**
 * `virDomainSetVcpusFlags` and `virDomainSetMaxMemory` for the QEMU
 * driver's table, with libvirt's checks and codes: the live vCPU count by
 * hot(un)plug (`lifecycle/runner-vcpus.ts`) and/or the `<vcpu current>` of
 * the next boot; the `<memory>` of the next boot (QEMU cannot change the
 * maximum of a running guest, so live is refused as libvirt refuses it).
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import { setMemoryTotal } from '../../../conf/domain/memory-total.js';
import type { DomainRef } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { setLiveVcpus } from '../lifecycle/index.js';
import { commitConfig, commitLive } from './commit-defs.js';
import { cloneDef, type Entry, isActive, type WriteFlags } from './domain-entry.js';
import type { DomainListAccess } from './migration.js';
import { syncGuestVcpus } from './tuning-start.js';

/** Which definitions a write touches: libvirt's `current` is live for a running domain, else config. */
function targets(e: Entry, opts: WriteFlags): { live: boolean; config: boolean } {
  const current = opts.live === undefined && opts.config === undefined;
  const live = current ? isActive(e) : opts.live === true;
  const config = current ? !isActive(e) : opts.config === true;
  if (live && !isActive(e)) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
  if (config && !e.config)
    throw new VirError('OPERATION_INVALID', 'qemu', 'cannot change persistent config of a transient domain');
  return { live, config };
}

/** A per-vCPU `<vcpus>` list would have to change with the count: refused rather than left stale. */
function refuseVcpuList(def: DomainDef): void {
  if ((def.vcpus?.vcpus?.length ?? 0) > 0)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      'changing the vCPU count of a definition with <vcpus> is not supported',
      {
        field: '/domain/vcpus',
      },
    );
}

function refuseOverMax(def: DomainDef, count: number, which: string): void {
  const max = def.vcpu?.count ?? 1;
  if (count > max)
    throw new VirError(
      'INVALID_ARG',
      'qemu',
      `requested vcpus is greater than max allowable vcpus for the ${which} domain: ${count} > ${max}`,
      { field: 'vcpu' },
    );
}

function withCurrent(def: DomainDef, count: number): DomainDef {
  const next = cloneDef(def);
  if (!next.vcpu) next.vcpu = { count: 1 };
  if (count === next.vcpu.count) delete next.vcpu.current;
  else next.vcpu.current = count;
  return next;
}

/** `virDomainSetVcpusFlags`: every check before any change; live by hot(un)plug, config by `<vcpu current>`. */
export async function setVcpus(
  side: DomainListAccess,
  dom: DomainRef,
  count: number,
  opts: WriteFlags,
): Promise<void> {
  const e = await side.owned(dom, opts, 'set the vCPUs of');
  await side.jobs.run(
    e.uuid,
    'set vcpus',
    async () => {
      const { live, config } = targets(e, opts);
      // every check first: nothing changes when one of them fails
      if (live && e.live) {
        refuseVcpuList(e.live);
        refuseOverMax(e.live, count, 'live');
      }
      if (config && e.config) {
        refuseVcpuList(e.config);
        refuseOverMax(e.config, count, 'persistent');
      }
      if (live && e.runner && e.live) {
        const runner = e.runner;
        const liveDef = e.live;
        const now = await setLiveVcpus(runner.migration, count, undefined, (vcpus) => {
          // a guest in cgroups (the system instance): each vCPU in its own group, as at start
          if (side.runners.options.cgroups && runner.pid !== undefined)
            syncGuestVcpus(liveDef, runner.pid, vcpus);
        });
        // the status file too: a connection that re-attaches sees the plugged count
        commitLive(e, withCurrent(e.live, now));
      }
      if (config && e.config) commitConfig(side, e, withCurrent(e.config, count));
    },
    opts.signal,
  );
}

/** `virDomainSetMaxMemory` / `VIR_DOMAIN_MEM_MAXIMUM`: the definition's `<memory>`; live is refused. */
export async function setMaxMemory(
  side: DomainListAccess,
  dom: DomainRef,
  kib: number,
  opts: WriteFlags,
): Promise<void> {
  const e = await side.owned(dom, opts, 'set the maximum memory of');
  await side.jobs.run(
    e.uuid,
    'set max memory',
    async () => {
      const { live, config } = targets(e, opts);
      if (live)
        throw new VirError(
          'OPERATION_INVALID',
          'qemu',
          'cannot resize the maximum memory on an active domain',
        );
      if (!config || !e.config) return;
      if ((e.config.cpu?.numa?.cells?.length ?? 0) > 0)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          'initial memory size of a domain with NUMA nodes cannot be modified with this API',
          { field: '/domain/cpu/numa' },
        );
      const next = cloneDef(e.config);
      setMemoryTotal(next, kib);
      // libvirt lowers the current size with the maximum (sizes are KiB once parsed)
      const cur = next.currentMemory;
      if (cur && cur.value > kib) next.currentMemory = { unit: 'KiB', value: kib };
      commitConfig(side, e, next);
    },
    opts.signal,
  );
}

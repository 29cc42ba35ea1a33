/**
 * The domain calls of {@link QemuConnection} beyond the lifecycle: save,
 * restore and managed save (`domains/save-restore.ts`), vCPUs and the
 * maximum memory (`domains/set-vcpus.ts`), rename (`domains/rename.ts`), snapshots
 * (`domains/snapshots.ts`), metadata and disk I/O limits (`domains/tuning.ts`). A base class so
 * `qemu-connection.ts` stays the wiring of the stages; each method hands
 * the call to its module with the domain list's {@link DomainListAccess}.
 *
 * @module
 */
import type {
  BlockIoTuneOptions,
  BlockIoTuneParams,
  GetMetadataOptions,
  SetMetadataOptions,
} from '../../domain-tuning.js';
import type { BlkioParameters } from '../../domain-tuning-blkio.js';
import type {
  MemoryParameters,
  SchedulerParameters,
  TuningParamsOptions,
} from '../../domain-tuning-sched.js';
import type {
  CallOptions,
  DomainRef,
  MetadataKind,
  SnapshotCreateOptions,
  SnapshotDeleteOptions,
  SnapshotInfo,
  SnapshotRevertOptions,
  SnapshotXmlOptions,
  StartCallOptions,
} from '../../driver.js';
import { QemuAgentCalls } from './domains/agent-calls.js';
import type { WriteFlags } from './domains/domain-entry.js';
import type { DomainListAccess } from './domains/index.js';
import { renameDomain } from './domains/rename.js';
import * as saves from './domains/save-restore.js';
import { setMaxMemory, setVcpus } from './domains/set-vcpus.js';
import { revertToSnapshot } from './domains/snapshot-revert.js';
import * as snapshots from './domains/snapshots.js';
import * as tuning from './domains/tuning.js';
import * as blkio from './domains/tuning-blkio.js';
import * as sched from './domains/tuning-sched.js';

/** The part of the QEMU driver's `DriverConnection` whose logic lives in `domains/` modules. */
export abstract class QemuDomainCalls extends QemuAgentCalls {
  /** The domain list these calls work on. */
  protected abstract domainSide(): DomainListAccess;

  domainGetSchedulerType(dom: DomainRef, opts: CallOptions = {}) {
    return sched.getSchedulerType(this.domainSide(), dom, opts);
  }
  domainGetSchedulerParameters(dom: DomainRef, opts: TuningParamsOptions = {}) {
    return sched.getSchedulerParameters(this.domainSide(), dom, opts);
  }
  domainSetSchedulerParameters(dom: DomainRef, params: SchedulerParameters, opts: TuningParamsOptions = {}) {
    return sched.setSchedulerParameters(this.domainSide(), dom, params, opts);
  }
  domainGetMemoryParameters(dom: DomainRef, opts: TuningParamsOptions = {}) {
    return sched.getMemoryParameters(this.domainSide(), dom, opts);
  }
  domainSetMemoryParameters(dom: DomainRef, params: MemoryParameters, opts: TuningParamsOptions = {}) {
    return sched.setMemoryParameters(this.domainSide(), dom, params, opts);
  }
  domainGetBlkioParameters(dom: DomainRef, opts: TuningParamsOptions = {}) {
    return blkio.getBlkioParameters(this.domainSide(), dom, opts);
  }
  domainSetBlkioParameters(dom: DomainRef, params: BlkioParameters, opts: TuningParamsOptions = {}) {
    return blkio.setBlkioParameters(this.domainSide(), dom, params, opts);
  }
  domainManagedSave(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return saves.saveDomain(this.domainSide(), dom, undefined, opts);
  }
  domainHasManagedSave(dom: DomainRef, opts: CallOptions = {}): Promise<boolean> {
    return saves.hasManagedSave(this.domainSide(), dom, opts);
  }
  domainManagedSaveRemove(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return saves.managedSaveRemove(this.domainSide(), dom, opts);
  }
  domainSave(dom: DomainRef, path: string, opts: CallOptions = {}): Promise<void> {
    return saves.saveDomain(this.domainSide(), dom, path, opts);
  }
  restoreDomain(path: string, opts: StartCallOptions = {}): Promise<DomainRef> {
    return saves.restoreDomain(this.domainSide(), path, opts);
  }
  domainSetVcpus(dom: DomainRef, count: number, opts: WriteFlags = {}): Promise<void> {
    return setVcpus(this.domainSide(), dom, count, opts);
  }
  domainSetMaxMemory(dom: DomainRef, kib: number, opts: WriteFlags = {}): Promise<void> {
    return setMaxMemory(this.domainSide(), dom, kib, opts);
  }
  domainSetMetadata(dom: DomainRef, kind: MetadataKind, value: string | null, opts: SetMetadataOptions = {}) {
    return tuning.setMetadata(this.domainSide(), dom, kind, value, opts);
  }
  domainGetMetadata(dom: DomainRef, kind: MetadataKind, opts: GetMetadataOptions = {}) {
    return tuning.getMetadata(this.domainSide(), dom, kind, opts);
  }
  domainSetBlockIoTune(
    dom: DomainRef,
    disk: string,
    params: BlockIoTuneParams,
    opts: BlockIoTuneOptions = {},
  ) {
    return tuning.setBlockIoTune(this.domainSide(), dom, disk, params, opts);
  }
  domainGetBlockIoTune(dom: DomainRef, disk: string, opts: BlockIoTuneOptions = {}) {
    return tuning.getBlockIoTune(this.domainSide(), dom, disk, opts);
  }
  domainRename(dom: DomainRef, newName: string, opts: CallOptions = {}): Promise<DomainRef> {
    return renameDomain(this.domainSide(), dom, newName, opts);
  }
  domainSnapshotCreate(
    dom: DomainRef,
    xml: string,
    opts: CallOptions & SnapshotCreateOptions = {},
  ): Promise<string> {
    return snapshots.createSnapshot(this.domainSide(), dom, xml, opts);
  }
  domainSnapshotList(dom: DomainRef, opts: CallOptions = {}): Promise<SnapshotInfo[]> {
    return snapshots.listSnapshots(this.domainSide(), dom, opts);
  }
  domainSnapshotGetXml(dom: DomainRef, name: string, opts: SnapshotXmlOptions = {}): Promise<string> {
    return snapshots.snapshotXml(this.domainSide(), dom, name, opts);
  }
  domainSnapshotRevert(
    dom: DomainRef,
    name: string,
    opts: CallOptions & SnapshotRevertOptions = {},
  ): Promise<DomainRef> {
    return revertToSnapshot(this.domainSide(), dom, name, opts);
  }
  domainSnapshotDelete(
    dom: DomainRef,
    name: string,
    opts: CallOptions & SnapshotDeleteOptions = {},
  ): Promise<void> {
    return snapshots.deleteSnapshot(this.domainSide(), dom, name, opts);
  }
}

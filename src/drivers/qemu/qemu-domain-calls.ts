/**
 * The domain calls of {@link QemuConnection} beyond the lifecycle: save,
 * restore and managed save (`domains/save-restore.ts`). A base class so
 * `qemu-connection.ts` stays the wiring of the stages; each method hands
 * the call to its module with the domain list's {@link MigrationSide}.
 *
 * @module
 */
import type { CallOptions, DomainRef, StartCallOptions } from '../../driver.js';
import type { MigrationSide } from './domains/index.js';
import * as saves from './domains/save-restore.js';

/** The part of the QEMU driver's `DriverConnection` whose logic lives in `domains/` modules. */
export abstract class QemuDomainCalls {
  /** The domain list these calls work on. */
  protected abstract domainSide(): MigrationSide;

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
}

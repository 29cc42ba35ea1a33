/**
 * The test driver's block I/O parameter calls, as libvirt 9.0's test driver
 * has them (checked through python3-libvirt): one definition at a time (the
 * running guest's by default, as `virDomainObjGetOneDef`), the weight and
 * per-device lists kept in `<blkiotune>` with no check of their ranges or
 * paths, no `tunable` event. A list libvirt cannot parse is refused before
 * anything changes (libvirt's test driver keeps what it applied before the
 * error).
 *
 * @module
 */
import { blkioValues, withBlkio } from '../../conf/domain/blkio-edit.js';
import { type BlkioParameters, blkioChanges } from '../../domain-tuning-blkio.js';
import type { TuningParamsOptions } from '../../domain-tuning-sched.js';
import type { TestDomain } from './test-host.js';
import { which } from './tuning-sched-ops.js';

export function getBlkioParameters(d: TestDomain, opts: TuningParamsOptions): BlkioParameters {
  const def = which(d, opts) === 'live' && d.live ? d.live.def : d.config;
  return { ...blkioValues(def) };
}

export function setBlkioParameters(d: TestDomain, params: BlkioParameters, opts: TuningParamsOptions): void {
  const target = which(d, opts);
  const changes = blkioChanges(params);
  if (target === 'live' && d.live) d.live.def = withBlkio(d.live.def, changes);
  else d.config = withBlkio(d.config, changes);
}

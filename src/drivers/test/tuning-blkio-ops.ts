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
import { type BlkioChanges, blkioValues, withBlkio } from '../../conf/domain/blkio-edit.js';
import {
  BLKIO_DEVICE_PARAMS,
  type BlkioParameters,
  parseBlkioDeviceList,
} from '../../domain-tuning-blkio.js';
import type { TuningParamsOptions } from '../../domain-tuning-sched.js';
import type { TestDomain } from './test-host.js';
import { which } from './tuning-sched-ops.js';

export function getBlkioParameters(d: TestDomain, opts: TuningParamsOptions): BlkioParameters {
  const def = which(d, opts) === 'live' && d.live ? d.live.def : d.config;
  return { ...blkioValues(def) };
}

/** The parameters as changes to a definition, every list parsed first. */
export function blkioChanges(params: BlkioParameters): BlkioChanges {
  const devices: NonNullable<BlkioChanges['devices']> = {};
  for (const name of BLKIO_DEVICE_PARAMS) {
    const list = params[name];
    if (list !== undefined) devices[name] = parseBlkioDeviceList(name, list);
  }
  return { ...(params.weight !== undefined ? { weight: params.weight } : {}), devices };
}

export function setBlkioParameters(d: TestDomain, params: BlkioParameters, opts: TuningParamsOptions): void {
  const target = which(d, opts);
  const changes = blkioChanges(params);
  if (target === 'live' && d.live) d.live.def = withBlkio(d.live.def, changes);
  else d.config = withBlkio(d.config, changes);
}

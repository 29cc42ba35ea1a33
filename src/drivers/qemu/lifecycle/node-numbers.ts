/**
 * The `libvirt-N-*` block node numbers of a running guest: a node added
 * after the start (a hot-plugged disk, a snapshot's overlay, a SCSI host
 * device's backend) takes the next number above every such node QEMU has,
 * as libvirt's counter does.
 *
 * @module
 */
import type { QmpClient } from '../qmp/index.js';

/** The next free `libvirt-N-*` number: above every node QEMU has. */
export async function nextNodeNumber(qmp: QmpClient): Promise<number> {
  const nodes = await qmp.execute<Array<{ 'node-name'?: string }>>('query-named-block-nodes');
  let max = 0;
  for (const x of nodes) {
    const m = /^libvirt-(\d+)-/.exec(x['node-name'] ?? '');
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/**
 * virNodeGetInfo for the local host: the memory, CPUs and topology libvirt's
 * QEMU driver reports, from the host facts the capabilities are built from.
 */
import { cpus, totalmem } from 'node:os';
import type { CapsHost } from '../../../conf/capabilities.js';
import type { NodeInfo } from '../../../driver.js';
import { hostArch } from './host-info.js';

export function nodeInfoOf(host: CapsHost): NodeInfo {
  const list = cpus();
  const topo = host.cpu.topology;
  const nodes = Math.max(1, host.topology?.cells?.num ?? 1);
  return {
    model: hostArch(),
    memory: Math.floor(totalmem() / 1024),
    cpus: list.length,
    mhz: list[0]?.speed ?? 0,
    nodes,
    // libvirt reports sockets per NUMA node
    sockets: Math.max(1, Math.floor((topo?.sockets ?? 1) / nodes)),
    cores: topo?.cores ?? list.length,
    threads: topo?.threads ?? 1,
  };
}

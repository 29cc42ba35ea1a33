/**
 * The host CPUs the playground ships: the host of a real capabilities
 * document (fixtures/capabilities, a Debian 12 AMD machine) and hosts whose
 * CPU is exactly one model of virtkit's CPU database, for trying a guest CPU
 * against older and newer hardware of both vendors.
 */

import realCaps from '../../fixtures/capabilities/qemu-session-x86_64.xml';
import { CpuDef } from '../../src/conf/index.js';
import { cpuModel } from '../../src/cpu/index.js';
import { firstChild, parseXml, type XmlElement } from '../../src/xml/index.js';

export interface ShippedHost {
  id: string;
  label: string;
  cpu: CpuDef;
}

/** The `<cpu>` of a capabilities document's `<host>`, or undefined. */
export function hostCpuOfCapabilities(root: XmlElement): CpuDef | undefined {
  const host = firstChild(root, 'host');
  const cpu = host && firstChild(host, 'cpu');
  return cpu ? CpuDef.fromElement(cpu, '/capabilities/host/cpu') : undefined;
}

const MODELS = [
  'Westmere',
  'Haswell-noTSX',
  'Skylake-Client-IBRS',
  'Cascadelake-Server',
  'Icelake-Server',
  'EPYC-Rome',
  'EPYC-Milan',
];

export function shippedHosts(): ShippedHost[] {
  const hosts: ShippedHost[] = [];
  const real = hostCpuOfCapabilities(parseXml(realCaps));
  if (real) hosts.push({ id: 'debian12-amd', label: 'Debian 12 AMD host (real capabilities)', cpu: real });
  for (const name of MODELS) {
    const vendor = cpuModel(name)?.vendor;
    if (!vendor) continue; // a model the database no longer has
    hosts.push({
      id: name,
      label: `${vendor} ${name} (the model exactly)`,
      cpu: CpuDef.fromXML(`<cpu><arch>x86_64</arch><model>${name}</model><vendor>${vendor}</vendor></cpu>`),
    });
  }
  return hosts;
}

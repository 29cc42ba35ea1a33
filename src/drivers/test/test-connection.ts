/**
 * The in-memory hypervisor behind `test:///`. Each connection is a fresh
 * host, as in libvirt: nothing is shared between connections.
 *
 * @module
 */
import type { Capabilities } from '../../conf/capabilities.js';
import { CpuDef } from '../../conf/cpu.js';
import { baselineCpu, compareCpu } from '../../cpu/index.js';
import type {
  BaselineOptions,
  CpuCompareResult,
  DomainInfo,
  DomainLookup,
  DomainRef,
  DomainState,
  DomainStateName,
  DriverConnection,
  ListDomainsFilter,
  NodeInfo,
} from '../../driver.js';
import { VirError } from '../../errors.js';
import { parseXml } from '../../xml/parse.js';
import { firstChild, getAttr, textContent } from '../../xml/tree.js';
import { DEFAULT_DOMAIN_XML, DEFAULT_NODE_INFO, defaultCapabilities } from './default-host.js';

interface TestDomain {
  name: string;
  uuid: string;
  id: number;
  state: DomainStateName;
  reason: string;
  persistent: boolean;
  xml: string;
  maxMemKiB: number;
  memoryKiB: number;
  vcpus: number;
}

export class TestConnection implements DriverConnection {
  readonly type = 'TEST';
  readonly #domains = new Map<string, TestDomain>();
  readonly #caps: Capabilities;
  readonly #nodeInfo: NodeInfo;
  #nextId = 1;

  constructor() {
    this.#caps = defaultCapabilities();
    this.#nodeInfo = DEFAULT_NODE_INFO;
    const dom = domainFromXml(DEFAULT_DOMAIN_XML);
    dom.id = this.#nextId++;
    dom.state = 'running';
    dom.reason = 'booted';
    this.#domains.set(dom.uuid, dom);
  }

  async close(): Promise<void> {
    this.#domains.clear();
  }

  async getCapabilities(): Promise<Capabilities> {
    return this.#caps;
  }

  /** Against the host CPU of the capabilities; a host CPU without a model is incompatible, as in libvirt. */
  async compareCpu(cpuXml: string): Promise<CpuCompareResult> {
    const host = new CpuDef(this.#caps.host.cpu ?? {});
    return compareCpu(host, cpuXml).result.toLowerCase() as CpuCompareResult;
  }

  async baselineCpu(cpuXmls: readonly string[], opts: BaselineOptions = {}): Promise<string> {
    return baselineCpu(cpuXmls, {
      ...(opts.expandFeatures !== undefined ? { expandFeatures: opts.expandFeatures } : {}),
      ...(opts.migratable !== undefined ? { migratable: opts.migratable } : {}),
    }).toXML();
  }

  async getHostname(): Promise<string> {
    // libvirt's test driver reports the real host name; a fixed one keeps harnesses deterministic.
    return 'localhost';
  }

  async getVersion(): Promise<number> {
    return 2;
  }

  async getNodeInfo(): Promise<NodeInfo> {
    return this.#nodeInfo;
  }

  async listDomains(filter: ListDomainsFilter): Promise<DomainRef[]> {
    const states = filter.state === undefined ? undefined : new Set([filter.state].flat());
    const out: DomainRef[] = [];
    for (const d of this.#domains.values()) {
      const active = d.id >= 0;
      if (filter.active !== undefined && filter.active !== active) continue;
      if (filter.persistent !== undefined && filter.persistent !== d.persistent) continue;
      if (states && !states.has(d.state)) continue;
      out.push(ref(d));
    }
    return out;
  }

  async lookupDomain(key: DomainLookup): Promise<DomainRef> {
    return ref(this.#find(key));
  }

  async domainGetState(dom: DomainRef): Promise<DomainState> {
    const d = this.#find({ uuid: dom.uuid });
    return { state: d.state, reason: d.reason };
  }

  async domainGetInfo(dom: DomainRef): Promise<DomainInfo> {
    const d = this.#find({ uuid: dom.uuid });
    return { state: d.state, maxMem: d.maxMemKiB, memory: d.memoryKiB, nrVirtCpu: d.vcpus, cpuTime: 0n };
  }

  async domainGetXml(dom: DomainRef): Promise<string> {
    const d = this.#find({ uuid: dom.uuid });
    if (d.id < 0) return d.xml;
    return d.xml.replace(/^<domain([^>]*)>/, (_m, attrs: string) => `<domain${attrs} id='${d.id}'>`);
  }

  #find(key: DomainLookup): TestDomain {
    if ('uuid' in key) {
      const d = this.#domains.get(key.uuid);
      if (d) return d;
      throw new VirError('NO_DOMAIN', 'test', `no domain with matching uuid '${key.uuid}'`);
    }
    for (const d of this.#domains.values()) {
      if ('name' in key ? d.name === key.name : d.id === key.id && d.id >= 0) return d;
    }
    throw new VirError(
      'NO_DOMAIN',
      'test',
      'name' in key ? `no domain with matching name '${key.name}'` : `no domain with matching id ${key.id}`,
    );
  }
}

function ref(d: TestDomain): DomainRef {
  return { name: d.name, uuid: d.uuid, id: d.id };
}

/** Reads the few facts this driver needs from domain XML. */
function domainFromXml(xml: string): TestDomain {
  const root = parseXml(xml);
  const name = textContent(firstChild(root, 'name') ?? root).trim();
  const uuid = textContent(firstChild(root, 'uuid') ?? root).trim();
  const memory = Number(textContent(firstChild(root, 'memory') ?? root));
  const current = firstChild(root, 'currentMemory');
  const vcpu = firstChild(root, 'vcpu');
  if (getAttr(root, 'type') === undefined) throw new VirError('XML_ERROR', 'test', 'missing domain type');
  return {
    name,
    uuid,
    id: -1,
    state: 'shutoff',
    reason: 'unknown',
    persistent: true,
    xml,
    maxMemKiB: memory,
    memoryKiB: current ? Number(textContent(current)) : memory,
    vcpus: vcpu ? Number(textContent(vcpu)) : 1,
  };
}

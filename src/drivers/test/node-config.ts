/**
 * libvirt's config-file format for the test driver (`test:///abs/path.xml`):
 * a `<node>` document describing the fake host (`<cpu>` with `mhz`, `model`,
 * `active`, `nodes`, `sockets`, `cores`, `threads`; `<memory>` in KiB) and
 * its domains, inline or as `<domain file='...'/>` relative to the file.
 * Domains may carry the test namespace's `runstate`, `transient` and
 * `hasmanagedsave` elements. Pools (with the `<volume>`s inside an inline
 * one; as in libvirt, a pool read from its own file has none), networks
 * and node devices, inline or from a file, become the host's objects.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { NodeInfo } from '../../driver.js';
import { VirError } from '../../errors.js';
import { parseXml } from '../../xml/parse.js';
import { serializeXml } from '../../xml/serialize.js';
import { childElements, firstChild, getAttr, textContent, type XmlElement } from '../../xml/tree.js';
import { DEFAULT_NODE_INFO } from './default-host.js';

export interface NodeConfig {
  readonly nodeInfo: NodeInfo;
  /** Each `<domain>`, parsed, with the file it came from for error messages. */
  readonly domains: readonly { element: XmlElement; file: string }[];
  /** The pools (each with its volumes' XML), networks and node devices, as XML. */
  readonly pools: readonly { xml: string; volumes: readonly string[] }[];
  readonly networks: readonly string[];
  readonly nodeDevices: readonly string[];
}

/** Reads and checks a node config file; every failure is `NO_CONNECT` saying why. */
export async function loadNodeConfig(path: string, signal?: AbortSignal): Promise<NodeConfig> {
  const root = await readXmlFile(path, signal);
  if (root.name !== 'node') fail(path, `expecting root element of 'node', not '${root.name}'`);
  const domains: { element: XmlElement; file: string }[] = [];
  for (const el of childElements(root, 'domain')) {
    const ref = getAttr(el, 'file');
    if (ref === undefined) {
      domains.push({ element: el, file: path });
    } else {
      const file = resolve(dirname(path), ref);
      domains.push({ element: await readXmlFile(file, signal), file });
    }
  }
  const load = async (el: XmlElement): Promise<XmlElement> => {
    const ref = getAttr(el, 'file');
    return ref === undefined ? el : readXmlFile(resolve(dirname(path), ref), signal);
  };
  const pools: { xml: string; volumes: string[] }[] = [];
  for (const el of childElements(root, 'pool')) {
    const pool = await load(el);
    const volumes: string[] = [];
    for (const v of childElements(pool, 'volume')) volumes.push(serializeXml(await load(v)));
    pool.children = pool.children.filter((c) => !(c.type === 'element' && c.name === 'volume'));
    pools.push({ xml: serializeXml(pool), volumes });
  }
  const all = async (name: string) => {
    const out: string[] = [];
    for (const el of childElements(root, name)) out.push(serializeXml(await load(el)));
    return out;
  };
  return {
    nodeInfo: readNodeInfo(root, path),
    domains,
    pools,
    networks: await all('network'),
    nodeDevices: await all('device'),
  };
}

function readNodeInfo(root: XmlElement, path: string): NodeInfo {
  const cpu = firstChild(root, 'cpu');
  const num = (parent: XmlElement | undefined, name: string, fallback: number): number => {
    const el = parent && firstChild(parent, name);
    if (!el) return fallback;
    const v = textContent(el).trim();
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
      fail(path, `invalid ${parent === root ? '' : 'cpu '}${name} '${v}'`, el);
    }
    return Number(v);
  };
  const modelEl = cpu && firstChild(cpu, 'model');
  return {
    model: modelEl ? textContent(modelEl).trim() : DEFAULT_NODE_INFO.model,
    memory: num(root, 'memory', DEFAULT_NODE_INFO.memory),
    cpus: num(cpu, 'active', DEFAULT_NODE_INFO.cpus),
    mhz: num(cpu, 'mhz', DEFAULT_NODE_INFO.mhz),
    nodes: num(cpu, 'nodes', DEFAULT_NODE_INFO.nodes),
    sockets: num(cpu, 'sockets', DEFAULT_NODE_INFO.sockets),
    cores: num(cpu, 'cores', DEFAULT_NODE_INFO.cores),
    threads: num(cpu, 'threads', DEFAULT_NODE_INFO.threads),
  };
}

async function readXmlFile(path: string, signal?: AbortSignal): Promise<XmlElement> {
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', ...(signal ? { signal } : {}) });
  } catch (err) {
    const reason = (err as { code?: unknown }).code === 'ENOENT' ? 'no such file' : String(err);
    throw new VirError('NO_CONNECT', 'test', `cannot read test driver config '${path}': ${reason}`, {
      cause: err,
    });
  }
  try {
    return parseXml(text);
  } catch (err) {
    const v = err instanceof VirError ? err : undefined;
    throw new VirError('NO_CONNECT', 'test', `${path}: ${v ? v.message : String(err)}`, {
      ...(v?.line !== undefined ? { line: v.line } : {}),
      ...(v?.column !== undefined ? { column: v.column } : {}),
      cause: err,
    });
  }
}

function fail(path: string, message: string, at?: XmlElement): never {
  throw new VirError('NO_CONNECT', 'test', `${path}: ${message}`, {
    ...(at?.line !== undefined ? { line: at.line } : {}),
    ...(at?.column !== undefined ? { column: at.column } : {}),
  });
}

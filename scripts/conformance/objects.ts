/**
 * Family `objects`: libvirt's storagepool, storagevol, network, nodedev
 * and secret xml2xml cases. Each input is parsed with its model (a volume
 * in the context of its pool), formatted (inactive when the case says so)
 * and compared byte for byte with libvirt's output; the output must pass
 * our schema for its kind. `parse-error` cases must be refused by the
 * model with a VirError.
 *
 * libvirt's formatters write only what they model, so these cases are
 * formatted without the unknown XML our models otherwise keep (comments
 * included: one input carries one).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetworkDef } from '../../src/conf/network/index.js';
import { NodeDeviceDef } from '../../src/conf/nodedev/index.js';
import { SecretDef } from '../../src/conf/secret.js';
import { StoragePoolDef, StorageVolDef } from '../../src/conf/storage/index.js';
import { VirError } from '../../src/errors.js';
import { xmlDiff } from '../../src/xml/equal.js';
import { type SchemaKind, validate } from '../../src/xml/validate.js';
import { attempt, type CaseResult } from './types.js';

export interface ObjectCase {
  name: string;
  kind: 'storagepool' | 'storagevol' | 'network' | 'nodedev' | 'secret';
  expect: 'success' | 'parse-error';
  input: string;
  output?: string;
  pool?: string;
  flags?: string[];
  inactive?: boolean;
}

const SCHEMA: Record<ObjectCase['kind'], SchemaKind> = {
  storagepool: 'storagepool',
  storagevol: 'storagevol',
  network: 'network',
  nodedev: 'nodedev',
  secret: 'secret',
};

/** Parses and formats one case's input as libvirt's test does. */
export function formatCase(dir: string, c: ObjectCase, input: string): string {
  const opts = { preserveUnknown: false } as const;
  switch (c.kind) {
    case 'secret':
      return SecretDef.fromXML(input, opts).toXML();
    case 'storagepool':
      return StoragePoolDef.fromXML(input, opts).toXML();
    case 'storagevol': {
      if (c.pool === undefined) throw new Error('storagevol case without a pool');
      const pool = StoragePoolDef.fromXML(readFileSync(join(dir, c.pool), 'utf8'));
      const flags = c.flags ?? [];
      for (const f of flags)
        if (f !== 'opt-capacity' && f !== 'no-capacity') throw new Error(`unknown storagevol flag '${f}'`);
      return StorageVolDef.fromXML(input, {
        ...opts,
        pool,
        optionalCapacity: flags.includes('opt-capacity'),
        noCapacity: flags.includes('no-capacity'),
      }).toXML();
    }
    case 'network':
      return NetworkDef.fromXML(input, opts).toXML({ inactive: c.inactive === true });
    case 'nodedev': {
      const dev = NodeDeviceDef.fromXML(input, opts);
      fillBlockCounts(dev);
      return dev.toXML({ inactive: c.inactive === true });
    }
    default:
      throw new Error(`unknown object kind '${(c as { kind: string }).kind}'`);
  }
}

/**
 * libvirt's nodedev test computes what its driver would read from sysfs:
 * block size and count of storage (2048-byte blocks of present removable
 * media, 512-byte blocks otherwise).
 */
function fillBlockCounts(dev: NodeDeviceDef): void {
  for (const cap of dev.capabilities ?? []) {
    if (cap.type !== 'storage') continue;
    const removable = cap.capabilities?.find((s) => s.type === 'removable');
    if (removable?.type === 'removable') {
      if (removable.mediaAvailable) {
        removable.logicalBlockSize = 2048n;
        removable.numBlocks = removable.mediaSize / 2048n;
      }
    } else if (cap.size !== undefined) {
      cap.logicalBlockSize = 512n;
      cap.numBlocks = cap.size / 512n;
    }
  }
}

export async function runCase(dir: string, c: ObjectCase): Promise<string | undefined> {
  const input = readFileSync(join(dir, c.input), 'utf8');
  if (c.expect === 'parse-error') {
    try {
      formatCase(dir, c, input);
    } catch (err) {
      if (err instanceof VirError) return undefined;
      return `threw a non-VirError: ${String(err)}`;
    }
    return 'parsed, but libvirt refuses this definition';
  }
  if (c.output === undefined) return 'success case without an output file';
  const expected = readFileSync(join(dir, c.output), 'utf8');
  const actual = formatCase(dir, c, input);
  if (actual !== expected) {
    const diff = xmlDiff(expected, actual);
    return diff ? `output differs: ${diff}` : 'output differs in formatting only';
  }
  const v = await validate(actual, SCHEMA[c.kind]);
  if (!v.valid) return `schema: ${v.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`;
  const vin = await validate(input, SCHEMA[c.kind]);
  if (!vin.valid)
    return `schema (input): ${vin.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`;
  return undefined;
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'objects');
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as ObjectCase[];
  const out: CaseResult[] = [];
  for (const c of cases) out.push(await attempt(c.name, () => runCase(dir, c)));
  return out;
}

/**
 * CPU and schema commands: `cpu-compare`, `cpu-baseline`,
 * `hypervisor-cpu-compare`, `hypervisor-cpu-baseline`, and virtkit's
 * `validate` (virt-xml-validate's job).
 *
 * The `<cpu>` elements are found by parsing the file with our XML parser,
 * in the places virsh looks: a bare `<cpu>`, a domain's, the host's in
 * capabilities, and the supported host-model of domain capabilities.
 *
 * @module
 */
import type { CpuCompareResult } from '../../driver.js';
import type { XmlElement } from '../../xml/tree.js';
import type { SchemaKind } from '../../xml/validate.js';
import type { OptSpec, ParsedOpts } from '../args.js';
import { attempt, CliError, type CommandContext, type CommandDef, describeError } from '../command.js';

/** Every `<cpu>` of the file, serialised, in document order. */
export async function extractCpus(xml: string, file: string): Promise<string[]> {
  // The XML core is loaded here, not at startup: most commands never need it.
  const [{ parseXml }, { serializeXml }, { childElements, getAttr }] = await Promise.all([
    import('../../xml/parse.js'),
    import('../../xml/serialize.js'),
    import('../../xml/tree.js'),
  ]);
  // A file may hold several documents one after the other (one per host),
  // so it is read as the children of one wrapping element, as virsh does.
  const body = xml.trimStart().startsWith('<?xml') ? xml.slice(xml.indexOf('?>') + 2) : xml;
  let root: XmlElement;
  try {
    root = parseXml(`<container>${body}</container>`);
  } catch (e) {
    throw new CliError(`${file}: ${describeError(e)}`);
  }
  const cpus: XmlElement[] = [];
  for (const top of childElements(root)) {
    if (top.name === 'cpu') cpus.push(top);
    else if (top.name === 'domain') cpus.push(...childElements(top, 'cpu'));
    else if (top.name === 'capabilities') {
      for (const host of childElements(top, 'host')) cpus.push(...childElements(host, 'cpu'));
    } else if (top.name === 'domainCapabilities') {
      for (const cpu of childElements(top, 'cpu')) {
        for (const mode of childElements(cpu, 'mode')) {
          if (getAttr(mode, 'name') === 'host-model' && getAttr(mode, 'supported') === 'yes') {
            // The host-model mode holds a CPU definition under another name.
            cpus.push({ ...mode, name: 'cpu', attrs: [] });
          }
        }
      }
    }
  }
  if (cpus.length === 0) {
    throw new CliError(
      `File '${file}' does not contain any <cpu> element or valid domain XML, host capabilities XML, or domain capabilities XML`,
    );
  }
  return cpus.map((c) => serializeXml(c));
}

const HV_OPTS: readonly OptSpec[] = [
  { name: 'virttype', kind: 'string', help: 'virtualization type (/domain/@type)' },
  { name: 'emulator', kind: 'string', help: 'path to emulator binary (/domain/devices/emulator)' },
  { name: 'arch', kind: 'string', help: 'CPU architecture (/domain/os/type/@arch)' },
  { name: 'machine', kind: 'string', help: 'machine type (/domain/os/type/@machine)' },
];

function hvQuery(opts: ParsedOpts): {
  virttype?: string;
  emulator?: string;
  arch?: string;
  machine?: string;
} {
  const q: { virttype?: string; emulator?: string; arch?: string; machine?: string } = {};
  for (const k of ['virttype', 'emulator', 'arch', 'machine'] as const) {
    const v = opts.str(k);
    if (v !== undefined) q[k] = v;
  }
  return q;
}

const CPU_FILE: OptSpec = {
  name: 'file',
  kind: 'string',
  required: true,
  positional: true,
  help: 'file containing an XML CPU description',
};
const ERROR_OPT: OptSpec = { name: 'error', kind: 'bool', help: 'report error if CPUs are incompatible' };
const VALIDATE_OPT: OptSpec = {
  name: 'validate',
  kind: 'bool',
  help: 'validate the XML document against schema',
};
const BASELINE_OPTS: readonly OptSpec[] = [
  { name: 'features', kind: 'bool', help: 'Show features that are part of the CPU model type' },
  { name: 'migratable', kind: 'bool', help: 'Do not include features that block migration' },
];

async function checkCpuSchema(xml: string, file: string): Promise<void> {
  const { validate } = await import('../../xml/validate.js');
  const r = await validate(xml, 'cpu');
  const first = r.errors[0];
  if (!r.valid && first) throw new CliError(`${file}:${first.line}: ${first.message}`);
}

/** Prints a comparison's sentence; incompatible fails the command, as in virsh. */
function report(
  ctx: CommandContext,
  opts: ParsedOpts,
  r: CpuCompareResult,
  words: Record<CpuCompareResult, string>,
) {
  if (r === 'incompatible' && opts.flag('error')) throw new CliError(words.incompatible);
  ctx.out(words[r]);
  return r !== 'incompatible';
}

const cpuCompare: CommandDef = {
  name: 'cpu-compare',
  group: 'host',
  summary: 'compare host CPU with a CPU described by an XML file',
  description: 'compare CPU with host CPU',
  options: [CPU_FILE, ERROR_OPT, VALIDATE_OPT],
  async run(ctx, opts) {
    const file = opts.need('file');
    const cpu = (await extractCpus(ctx.readFile(file), file))[0] as string;
    const r = await attempt(`Failed to compare host CPU with ${file}`, async () => {
      if (opts.flag('validate')) await checkCpuSchema(cpu, file);
      return (await ctx.conn()).compareCpu(cpu);
    });
    return report(ctx, opts, r, {
      incompatible: `CPU described in ${file} is incompatible with host CPU`,
      identical: `CPU described in ${file} is identical to host CPU`,
      superset: `Host CPU is a superset of CPU described in ${file}`,
    });
  },
};

const cpuBaseline: CommandDef = {
  name: 'cpu-baseline',
  group: 'host',
  summary: 'compute baseline CPU',
  description: 'Compute baseline CPU for a set of given CPUs.',
  options: [{ ...CPU_FILE, help: 'file containing XML CPU descriptions' }, ...BASELINE_OPTS],
  async run(ctx, opts) {
    const file = opts.need('file');
    const cpus = await extractCpus(ctx.readFile(file), file);
    const xml = await attempt('failed to compute baseline CPU', async () =>
      (await ctx.conn()).baselineCpu(cpus, {
        expandFeatures: opts.flag('features'),
        migratable: opts.flag('migratable'),
      }),
    );
    ctx.out(xml.trimEnd());
    return true;
  },
};

const hvCompare: CommandDef = {
  name: 'hypervisor-cpu-compare',
  group: 'host',
  summary: 'compare a CPU with the CPU created by a hypervisor on the host',
  description: 'compare CPU with hypervisor CPU',
  options: [CPU_FILE, ...HV_OPTS, ERROR_OPT, VALIDATE_OPT],
  async run(ctx, opts) {
    const file = opts.need('file');
    const cpu = (await extractCpus(ctx.readFile(file), file))[0] as string;
    const r = await attempt(`Failed to compare hypervisor CPU with ${file}`, async () => {
      if (opts.flag('validate')) await checkCpuSchema(cpu, file);
      return (await ctx.conn()).compareHypervisorCpu(cpu, hvQuery(opts));
    });
    return report(ctx, opts, r, {
      incompatible: `CPU described in ${file} is incompatible with the CPU provided by hypervisor on the host`,
      identical: `CPU described in ${file} is identical to the CPU provided by hypervisor on the host`,
      superset: `The CPU provided by hypervisor on the host is a superset of CPU described in ${file}`,
    });
  },
};

const hvBaseline: CommandDef = {
  name: 'hypervisor-cpu-baseline',
  group: 'host',
  summary: 'compute baseline CPU usable by a specific hypervisor',
  description:
    'Compute baseline CPU for a set of given CPUs. The result will be tailored to the specified hypervisor.',
  options: [
    { ...CPU_FILE, required: false, help: 'file containing XML CPU descriptions' },
    ...HV_OPTS,
    ...BASELINE_OPTS,
  ],
  async run(ctx, opts) {
    const file = opts.str('file');
    if (file === undefined) throw new CliError('missing --file argument');
    const cpus = await extractCpus(ctx.readFile(file), file);
    const xml = await attempt('failed to compute baseline CPU', async () =>
      (await ctx.conn()).baselineHypervisorCpu(cpus, {
        ...hvQuery(opts),
        expandFeatures: opts.flag('features'),
        migratable: opts.flag('migratable'),
      }),
    );
    ctx.out(xml.trimEnd());
    return true;
  },
};

const KIND_BY_ROOT: Readonly<Record<string, SchemaKind>> = {
  capabilities: 'capability',
  domainCapabilities: 'domaincaps',
  domain: 'domain',
  cpu: 'cpu',
  network: 'network',
  device: 'nodedev',
  secret: 'secret',
  pool: 'storagepool',
  volume: 'storagevol',
};

const validateCmd: CommandDef = {
  name: 'validate',
  group: 'host',
  summary: 'validate an XML file against its schema (virtkit)',
  description:
    "Validate an XML document against virtkit's RelaxNG schema for its kind: capability, domaincaps, domain, cpu, network, nodedev, secret, storagepool or storagevol. The kind is taken from the root element unless given.",
  options: [
    { name: 'file', kind: 'string', required: true, positional: true, help: 'XML file to validate' },
    { name: 'kind', kind: 'string', positional: true, help: 'schema kind (default: from the root element)' },
  ],
  async run(ctx, opts) {
    const file = opts.need('file');
    const xml = ctx.readFile(file);
    let kind = opts.str('kind') as SchemaKind | undefined;
    if (kind === undefined) {
      const { parseXml } = await import('../../xml/parse.js');
      let root: string;
      try {
        root = parseXml(xml).name;
      } catch (e) {
        throw new CliError(`${file}: ${describeError(e)}`);
      }
      kind = KIND_BY_ROOT[root];
      if (!kind) throw new CliError(`${file}: no schema for root element <${root}>; give the kind`);
    }
    const { validate, SCHEMA_KINDS } = await import('../../xml/validate.js');
    if (!Object.hasOwn(SCHEMA_KINDS, kind)) {
      throw new CliError(`unknown schema kind '${kind}' (one of ${Object.keys(SCHEMA_KINDS).join(', ')})`);
    }
    const r = await validate(xml, kind);
    if (r.valid) {
      ctx.out(`${file} validates`);
      return true;
    }
    for (const e of r.errors) ctx.out(`${file}:${e.line}: ${e.message}`);
    throw new CliError(`${file} fails to validate`);
  },
};

export const cpuCommands: readonly CommandDef[] = [
  cpuCompare,
  cpuBaseline,
  hvCompare,
  hvBaseline,
  validateCmd,
];

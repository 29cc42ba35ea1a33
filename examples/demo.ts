/**
 * The README's first command (`npm start`): connect to the embedded
 * test:///default hypervisor, summarise its capabilities, list its domains,
 * validate the capabilities XML against our schema, and close.
 *
 * Run against another URI with `npm start -- qemu:///session`.
 */
import { type Capabilities, connect, VirError, validate } from '../src/index.js';

function summarise(caps: Capabilities): string[] {
  const lines: string[] = [];
  const cpu = caps.host.cpu;
  lines.push(
    `Host CPU: arch ${cpu.arch ?? '?'}, model ${cpu.model?.name ?? '(none)'}, vendor ${cpu.vendor ?? '(none)'}`,
  );
  const t = cpu.topology;
  if (t) {
    lines.push(
      `  topology: ${t.sockets} socket(s), ${t.dies ?? 1} die(s), ${t.cores} core(s), ${t.threads} thread(s)`,
    );
  }
  const cells = caps.host.topology?.cells?.cells ?? [];
  if (cells.length > 0) {
    const cpus = cells.reduce((n, c) => n + (c.cpus?.num ?? 0), 0);
    lines.push(`  NUMA: ${cells.length} cell(s), ${cpus} CPU(s)`);
  }
  for (const sec of caps.host.secModels ?? []) lines.push(`  security model: ${sec.model}`);
  for (const g of caps.guests ?? []) {
    const domains = (g.arch.domains ?? []).map((d) => d.type).join(', ') || '(none)';
    const machines = (g.arch.machines ?? []).map((m) => m.name);
    lines.push(`Guest ${g.osType}/${g.arch.name} (${g.arch.wordsize ?? '?'}-bit): domain types ${domains}`);
    if (g.arch.emulator) lines.push(`  emulator: ${g.arch.emulator}`);
    if (machines.length > 0) lines.push(`  machines: ${machines.join(', ')}`);
  }
  return lines;
}

async function main(): Promise<void> {
  const uri = process.argv[2] ?? 'test:///default';
  const conn = await connect(uri);
  try {
    console.log(`Connected to ${uri} (${conn.type})\n`);
    const caps = await conn.getCapabilities();
    for (const line of summarise(caps)) console.log(line);

    console.log('\nDomains:');
    for (const dom of await conn.listDomains()) {
      const { state, reason } = await dom.getState();
      const id = dom.id >= 0 ? String(dom.id) : '-';
      console.log(`  ${id.padStart(3)}  ${dom.name.padEnd(20)} ${state} (${reason})  ${dom.uuid}`);
    }

    const result = await validate(caps.toXML(), 'capability');
    console.log(
      result.valid
        ? '\nCapabilities XML is valid against schemas/capability.rng'
        : `\nCapabilities XML is NOT valid: ${result.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`,
    );
  } finally {
    await conn.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof VirError) console.error(`error ${err.code} (${err.domain}): ${err.message}`);
  else console.error(err);
  process.exit(1);
});

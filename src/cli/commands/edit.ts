/**
 * `edit`, `net-edit` and `pool-edit` as virsh does them: the definition
 * into a temporary file (mode 0600: a domain's may hold passwords), the
 * user's $VISUAL or $EDITOR (else `vi`) on it, then, if it changed, a
 * define of the edited document. A define that fails says why and, on a
 * terminal, asks whether to edit again (at most {@link MAX_ROUNDS} times);
 * without a terminal it fails with that error. The file is removed always.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVirError } from '../../errors.js';
import { CliError, type CommandContext, type CommandDef, DOMAIN_OPT } from '../command.js';
import { libvirtMessage, tryTo } from '../libvirt-words.js';
import { NETWORK_OPT } from './network.js';
import { lookupPool, POOL_OPT } from './pool.js';

/** Edits after a failed define, at most: a bound, so a script answering `y` forever still ends. */
export const MAX_ROUNDS = 10;

interface Editable {
  /** The document to edit. */
  get(): Promise<string>;
  /** Defines the edited document; resolves to the name to report. */
  define(xml: string): Promise<string>;
  /** `Domain 'x'`, `Network x`, `Pool x`: how the messages name it. */
  label(name: string): string;
  readonly name: string;
}

// an editor named by these characters only is run directly; anything else goes through sh, as virsh does
const PLAIN_COMMAND = /^[A-Za-z0-9_./-]+$/;

/** Runs the editor on `file`; its failure is virsh's `internal error: Child process (...) ...`. */
function runEditor(ctx: CommandContext, file: string): void {
  const editor = ctx.env.VISUAL || ctx.env.EDITOR || 'vi';
  const plain = PLAIN_COMMAND.test(editor);
  const line = `${editor} ${file}`;
  const [cmd, args, shown] = plain
    ? [editor, [file], line]
    : ['sh', ['-c', line], `sh -c '${line.replaceAll("'", `'\\''`)}'`];
  // the editor owns the terminal until it exits, as in virsh
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...ctx.env } as NodeJS.ProcessEnv });
  if (r.error) throw new CliError(`internal error: Child process (${shown}) failed: ${r.error.message}`);
  if (r.status !== 0) {
    const how = r.status === null ? `fatal signal ${r.signal}` : `unexpected exit status ${r.status}`;
    throw new CliError(`internal error: Child process (${shown}) ${how}`);
  }
}

/** On a terminal: virsh's question after a failed define; true to edit again. */
async function askAgain(ctx: CommandContext): Promise<boolean> {
  const input = ctx.terminal.input;
  if (!input.isTTY) return false;
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input, output: ctx.terminal.output, terminal: false });
  try {
    for (let i = 0; i < 5; i++) {
      const a = (await rl.question('Failed. Try again? [y,n,?]:')).trim().toLowerCase();
      if (a === 'y') return true;
      if (a === 'n') return false;
      ctx.terminal.output.write(
        'y - yes, start editor again\nn - no, throw away my changes\n? - print this help\n',
      );
    }
    return false;
  } finally {
    rl.close();
  }
}

async function editLoop(ctx: CommandContext, it: Editable): Promise<boolean> {
  const doc = await it.get();
  const file = join(ctx.env.TMPDIR || tmpdir(), `virtkit${randomBytes(4).toString('hex')}.xml`);
  writeFileSync(file, doc, { mode: 0o600, flag: 'wx' });
  try {
    for (let round = 1; ; round++) {
      runEditor(ctx, file);
      const edited = readFileSync(file, 'utf8');
      if (edited === doc) {
        ctx.extra(`${it.label(it.name)} XML configuration not changed.`);
        return true;
      }
      // as virsh: someone else's change meanwhile is not overwritten
      if ((await it.get()) !== doc) {
        throw new CliError(`${it.label(it.name)} XML configuration was changed meanwhile; not defined`);
      }
      try {
        const name = await it.define(edited);
        ctx.extra(`${it.label(name)} XML configuration edited.`);
        return true;
      } catch (e) {
        ctx.error(libvirtMessage(e));
        if (round >= MAX_ROUNDS || !(await askAgain(ctx))) throw new CliError('Failed.');
      }
    }
  } finally {
    rmSync(file, { force: true });
  }
}

const edit: CommandDef = {
  name: 'edit',
  group: 'domain',
  summary: 'edit XML configuration for a domain',
  description: 'Edit the XML configuration for a domain.',
  options: [
    DOMAIN_OPT,
    { name: 'skip-validate', kind: 'bool', help: 'skip validation of the XML against the schema' },
  ],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const conn = await ctx.conn();
    return editLoop(ctx, {
      name: d.name,
      label: (n) => `Domain '${n}'`,
      get: () => d.getXML({ inactive: true, secure: true }),
      async define(xml) {
        // virsh's edit validates against the schema unless told not to
        if (!opts.flag('skip-validate')) {
          const { validate } = await import('../../xml/validate.js');
          const r = await validate(xml, 'domain');
          const first = r.errors[0];
          if (!r.valid && first)
            throw new CliError(`XML document failed to validate: line ${first.line}: ${first.message}`);
        }
        return (await conn.defineDomain(xml)).name;
      },
    });
  },
};

/** The inactive definition, or the live one from a server that refuses the flag (as virsh retries). */
async function inactiveXml(get: (o: { inactive?: boolean }) => Promise<string>): Promise<string> {
  try {
    return await get({ inactive: true });
  } catch (e) {
    if (isVirError(e, 'INVALID_ARG')) return get({});
    throw e;
  }
}

const netEdit: CommandDef = {
  name: 'net-edit',
  group: 'network',
  summary: 'edit XML configuration for a network',
  description: 'Edit the XML configuration for a network.',
  options: [NETWORK_OPT],
  async run(ctx, opts) {
    const key = opts.need('network');
    const conn = await ctx.conn();
    const n = await tryTo(`failed to get network '${key}'`, () => conn.networks.lookup(key));
    return editLoop(ctx, {
      name: n.name,
      label: (x) => `Network ${x}`,
      get: () => inactiveXml((o) => n.getXML(o)),
      define: async (xml) => (await conn.networks.define(xml)).name,
    });
  },
};

const poolEdit: CommandDef = {
  name: 'pool-edit',
  group: 'pool',
  summary: 'edit XML configuration for a storage pool',
  description: 'Edit the XML configuration for a storage pool.',
  options: [POOL_OPT],
  async run(ctx, opts) {
    const p = await lookupPool(ctx, opts.need('pool'));
    const conn = await ctx.conn();
    return editLoop(ctx, {
      name: p.name,
      label: (x) => `Pool ${x}`,
      get: () => inactiveXml((o) => p.getXML(o)),
      define: async (xml) => (await conn.storagePools.define(xml)).name,
    });
  },
};

/** The commands, for the session's table. */
export const editCommands: readonly CommandDef[] = [edit, netEdit, poolEdit];

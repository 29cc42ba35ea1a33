/**
 * Secret commands as virsh names them: `secret-list`, `secret-define`,
 * `secret-dumpxml`, `secret-set-value`, `secret-get-value`,
 * `secret-undefine`. `secret-set-value --interactive` reads the value from
 * the terminal without echo. A value goes to the library and, for
 * `secret-get-value`, to the output: never into an error line or a log.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import type { Connection } from '../../connection.js';
import type { Secret } from '../../secret.js';
import type { OptSpec } from '../args.js';
import { CliError, type CommandContext, type CommandDef } from '../command.js';
import { table } from '../format.js';
import { tryTo } from '../libvirt-words.js';
import { readHiddenLine } from '../read-hidden.js';
import { printXml, XPATH_OPTIONS } from '../xpath-view.js';

const SECRET_OPT: OptSpec = {
  name: 'secret',
  kind: 'string',
  required: true,
  positional: true,
  help: 'secret UUID',
};

async function lookupSecret(ctx: CommandContext, key: string): Promise<Secret<Connection>> {
  const conn = await ctx.conn();
  return tryTo(`failed to get secret '${key}'`, () => conn.secrets.lookup(key));
}

/** Strict base64 (blanks and newlines between groups allowed, as glib's decoder takes them). */
function decodeBase64(text: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
    throw new CliError('Invalid base64 data');
  }
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

function either(opts: { flag(n: string): boolean }, a: string, b: string): boolean | undefined {
  return opts.flag(a) ? true : opts.flag(b) ? false : undefined;
}

const list: CommandDef = {
  name: 'secret-list',
  group: 'secret',
  summary: 'list secrets',
  description: 'Returns a list of secrets',
  options: [
    { name: 'ephemeral', kind: 'bool', help: 'list ephemeral secrets' },
    { name: 'no-ephemeral', kind: 'bool', help: 'list non-ephemeral secrets' },
    { name: 'private', kind: 'bool', help: 'list private secrets' },
    { name: 'no-private', kind: 'bool', help: 'list non-private secrets' },
  ],
  async run(ctx, opts) {
    const ephemeral = either(opts, 'ephemeral', 'no-ephemeral');
    const priv = either(opts, 'private', 'no-private');
    const conn = await ctx.conn();
    const secrets = await tryTo('Failed to list secrets', () =>
      conn.secrets.list({
        ...(ephemeral === undefined ? {} : { ephemeral }),
        ...(priv === undefined ? {} : { private: priv }),
      }),
    );
    const rows = secrets
      .map((s) => [s.uuid, s.usageType === 'none' ? 'Unused' : `${s.usageType} ${s.usageId}`])
      .sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
    for (const l of table(['UUID', 'Usage'], rows, { header: !ctx.quiet })) ctx.out(l);
    return true;
  },
};

const define: CommandDef = {
  name: 'secret-define',
  group: 'secret',
  summary: 'define or modify a secret from an XML file',
  description: 'Define or modify a secret.',
  options: [
    {
      name: 'file',
      kind: 'string',
      required: true,
      positional: true,
      help: 'file containing secret attributes in XML',
    },
  ],
  async run(ctx, opts) {
    const file = opts.need('file');
    const xml = ctx.readFile(file);
    const conn = await ctx.conn();
    const s = await tryTo(`Failed to set attributes from ${file}`, () => conn.secrets.define(xml));
    ctx.extra(`Secret ${s.uuid} created`);
    return true;
  },
};

const dumpxml: CommandDef = {
  name: 'secret-dumpxml',
  group: 'secret',
  summary: 'secret attributes in XML',
  description: 'Output attributes of a secret as an XML dump to stdout.',
  options: [SECRET_OPT, ...XPATH_OPTIONS],
  async run(ctx, opts) {
    const s = await lookupSecret(ctx, opts.need('secret'));
    await printXml(ctx, await s.getXML(), opts);
    return true;
  },
};

const setValue: CommandDef = {
  name: 'secret-set-value',
  group: 'secret',
  summary: 'set a secret value',
  description: 'Set a secret value.',
  options: [
    SECRET_OPT,
    { name: 'file', kind: 'string', help: 'read secret from file' },
    { name: 'plain', kind: 'bool', help: 'read the secret from file without converting from base64' },
    { name: 'interactive', kind: 'bool', help: 'read the secret from the terminal' },
    { name: 'base64', kind: 'string', help: 'base64-encoded secret value' },
  ],
  async run(ctx, opts) {
    const file = opts.str('file');
    const b64 = opts.str('base64');
    const interactive = opts.flag('interactive');
    // virsh's order of checks, each with its words
    const exclusive: [string, boolean][] = [
      ['file base64', file !== undefined && b64 !== undefined],
      ['plain base64', opts.flag('plain') && b64 !== undefined],
      ['interactive base64', interactive && b64 !== undefined],
      ['interactive plain', interactive && opts.flag('plain')],
      ['interactive file', interactive && file !== undefined],
    ];
    for (const [pair, both] of exclusive) {
      const [a, b] = pair.split(' ');
      if (both) throw new CliError(`Options --${a} and --${b} are mutually exclusive`);
    }
    const s = await lookupSecret(ctx, opts.need('secret'));
    let value: Uint8Array;
    if (b64 !== undefined) {
      // virsh's notice, and it goes on: others on the host may see the command line
      ctx.error('Passing secret value as command-line argument is insecure!');
      value = decodeBase64(b64);
    } else if (interactive) {
      ctx.prompt('Enter new value for secret:');
      const typed = await readHiddenLine(ctx.terminal, ctx.signal);
      if (typed === undefined) throw new CliError('Failed to read secret');
      value = typed;
    } else if (file !== undefined) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch {
        // the reason only: the path is the user's own, the bytes are never shown
        throw new CliError(`failed to read secret from file '${file}'`);
      }
      value = opts.flag('plain') ? new Uint8Array(bytes) : decodeBase64(bytes.toString('latin1'));
    } else {
      throw new CliError('Input secret value is missing');
    }
    await tryTo('Failed to set secret value', () => s.setValue(value));
    value.fill(0);
    ctx.extra('Secret value set');
    return true;
  },
};

const getValue: CommandDef = {
  name: 'secret-get-value',
  group: 'secret',
  summary: 'Output a secret value',
  description: 'Output a secret value to stdout.',
  options: [SECRET_OPT, { name: 'plain', kind: 'bool', help: 'get value without converting to base64' }],
  async run(ctx, opts) {
    const s = await lookupSecret(ctx, opts.need('secret'));
    // virsh adds no words of its own here: the library's error alone
    const value = await s.getValue();
    ctx.out(opts.flag('plain') ? Buffer.from(value).toString('utf8') : Buffer.from(value).toString('base64'));
    // no blank line after it, as in virsh, so a script captures the value alone
    ctx.noBlankLine();
    value.fill(0);
    return true;
  },
};

const undefine: CommandDef = {
  name: 'secret-undefine',
  group: 'secret',
  summary: 'undefine a secret',
  description: 'Undefine a secret.',
  options: [SECRET_OPT, ...XPATH_OPTIONS],
  async run(ctx, opts) {
    const key = opts.need('secret');
    const s = await lookupSecret(ctx, key);
    await tryTo(`Failed to delete secret ${key}`, () => s.undefine());
    ctx.extra(`Secret ${key} deleted`);
    return true;
  },
};

export const secretCommands: readonly CommandDef[] = [define, dumpxml, getValue, list, setValue, undefine];

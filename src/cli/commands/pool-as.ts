/**
 * `pool-define-as` and `pool-create-as`: a `<pool>` document built from
 * arguments, in the element order virsh writes (checked beside virsh with
 * `--print-xml`), then defined or created, or only printed.
 *
 * virsh 9 writes the values into the XML unescaped; here every value is
 * escaped, so `<` or `'` in an argument stays a value and never becomes markup.
 *
 * @module
 */
import type { OptSpec, ParsedOpts } from '../args.js';
import { CliError, type CommandDef } from '../command.js';
import { tryTo } from '../libvirt-words.js';

// The optional strings after <name> <type>; the first five may also be bare words, in this order.
const SOURCE_OPTS: readonly [string, string][] = [
  ['source-host', 'source-host for underlying storage'],
  ['source-path', 'source path for underlying storage'],
  ['source-dev', 'source device for underlying storage'],
  ['source-name', 'source name for underlying storage'],
  ['target', 'target for underlying storage'],
  ['source-format', 'format for underlying storage'],
  ['auth-type', 'auth type to be used for underlying storage'],
  ['auth-username', 'auth username to be used for underlying storage'],
  ['secret-usage', 'auth secret usage to be used for underlying storage'],
  ['secret-uuid', 'auth secret UUID to be used for underlying storage'],
  ['adapter-name', 'adapter name to be used for underlying storage'],
  ['adapter-wwnn', 'adapter wwnn to be used for underlying storage'],
  ['adapter-wwpn', 'adapter wwpn to be used for underlying storage'],
  ['adapter-parent', 'adapter parent scsi_hostN to be used for underlying vHBA storage'],
  ['adapter-parent-wwnn', 'adapter parent scsi_hostN wwnn to be used for underlying vHBA storage'],
  ['adapter-parent-wwpn', 'adapter parent scsi_hostN wwpn to be used for underlying vHBA storage'],
  [
    'adapter-parent-fabric-wwn',
    'adapter parent scsi_hostN fabric_wwn to be used for underlying vHBA storage',
  ],
  ['source-protocol-ver', 'nfsvers value for NFS pool mount option'],
  ['source-initiator', 'initiator iqn for underlying storage'],
];

const POSITIONAL = new Set(['source-host', 'source-path', 'source-dev', 'source-name', 'target']);

const OPTIONS: readonly OptSpec[] = [
  { name: 'name', kind: 'string', required: true, positional: true, help: 'name of the pool' },
  { name: 'type', kind: 'string', required: true, positional: true, help: 'type of the pool' },
  { name: 'print-xml', kind: 'bool', help: "print XML document, but don't define/create" },
  ...SOURCE_OPTS.map(
    ([name, help]): OptSpec => ({
      name,
      kind: 'string',
      help,
      ...(POSITIONAL.has(name) ? { positional: true, helpAsOption: true } : {}),
    }),
  ),
];

/** The `<pool>` document of the arguments, as virsh's pool-define-as lays it out. */
export async function poolXmlFromArgs(opts: ParsedOpts): Promise<string> {
  const [{ serializeXml }, { element, text }] = await Promise.all([
    import('../../xml/serialize.js'),
    import('../../xml/tree.js'),
  ]);
  type El = ReturnType<typeof element>;
  const v = (name: string) => opts.str(name);
  const attr = (name: string, value: string) => ({ name, value });
  const source: El[] = [];
  const host = v('source-host');
  if (host !== undefined) source.push(element('host', [attr('name', host)]));
  const path = v('source-path');
  if (path !== undefined) source.push(element('dir', [attr('path', path)]));
  const dev = v('source-dev');
  if (dev !== undefined) source.push(element('device', [attr('path', dev)]));
  const iqn = v('source-initiator');
  if (iqn !== undefined) source.push(element('initiator', [], [element('iqn', [attr('name', iqn)])]));
  const wwnn = v('adapter-wwnn');
  const wwpn = v('adapter-wwpn');
  const adapterName = v('adapter-name');
  if (wwnn !== undefined && wwpn !== undefined) {
    const attrs = [attr('type', 'fc_host')];
    const parent = v('adapter-parent');
    const parentWwnn = v('adapter-parent-wwnn');
    const parentWwpn = v('adapter-parent-wwpn');
    const fabric = v('adapter-parent-fabric-wwn');
    // one way of naming the parent, the first given in this order, as virsh picks it
    if (parent !== undefined) attrs.push(attr('parent', parent));
    else if (parentWwnn !== undefined && parentWwpn !== undefined)
      attrs.push(attr('parent_wwnn', parentWwnn), attr('parent_wwpn', parentWwpn));
    else if (fabric !== undefined) attrs.push(attr('parent_fabric_wwn', fabric));
    attrs.push(attr('wwnn', wwnn), attr('wwpn', wwpn));
    source.push(element('adapter', attrs));
  } else if (adapterName !== undefined) {
    source.push(element('adapter', [attr('type', 'scsi_host'), attr('name', adapterName)]));
  }
  const authType = v('auth-type');
  const authUser = v('auth-username');
  const usage = v('secret-usage');
  const uuid = v('secret-uuid');
  const hasAuth = authType !== undefined && authUser !== undefined && (usage ?? uuid) !== undefined;
  if (hasAuth) {
    const secret = usage !== undefined ? attr('usage', usage) : attr('uuid', uuid as string);
    const who = [attr('type', authType as string), attr('username', authUser as string)];
    source.push(element('auth', who, [element('secret', [secret])]));
  }
  const format = v('source-format');
  if (format !== undefined) source.push(element('format', [attr('type', format)]));
  const srcName = v('source-name');
  if (srcName !== undefined) source.push(element('name', [], [text(srcName)]));
  const protoVer = v('source-protocol-ver');
  if (protoVer !== undefined) source.push(element('protocol', [attr('ver', protoVer)]));

  const children: El[] = [element('name', [], [text(opts.need('name'))])];
  // an auth alone opens no <source>, as in virsh
  const opensSource = source.length > (hasAuth ? 1 : 0);
  if (opensSource) children.push(element('source', [], source));
  const target = v('target');
  if (target !== undefined) children.push(element('target', [], [element('path', [], [text(target)])]));
  return serializeXml(element('pool', [attr('type', opts.need('type'))], children));
}

// pool-create-as's build flags (libvirt's VIR_STORAGE_POOL_CREATE_WITH_BUILD*): the library's
// create takes none, so they are refused by name rather than ignored
const BUILD_OPTS: readonly OptSpec[] = [
  { name: 'build', kind: 'bool', help: 'build the pool as normal' },
  { name: 'no-overwrite', kind: 'bool', help: 'do not overwrite any existing data' },
  { name: 'overwrite', kind: 'bool', help: 'overwrite any existing data' },
];

function fromArgs(name: string, verb: 'define' | 'create', summary: string): CommandDef {
  return {
    name,
    group: 'pool',
    summary,
    description: `${verb === 'define' ? 'Define' : 'Create'} a pool.`,
    options: verb === 'create' ? [...OPTIONS, ...BUILD_OPTS] : OPTIONS,
    async run(ctx, opts) {
      for (const o of BUILD_OPTS) {
        if (opts.flag(o.name)) throw new CliError(`Option --${o.name} is not supported by virtkit`);
      }
      if (opts.has('secret-usage') && opts.has('secret-uuid')) {
        throw new CliError('Options --secret-usage and --secret-uuid are mutually exclusive');
      }
      const xml = await poolXmlFromArgs(opts);
      if (opts.flag('print-xml')) {
        ctx.out(xml.trimEnd());
        return true;
      }
      const poolName = opts.need('name');
      const conn = await ctx.conn();
      const p = await tryTo(`Failed to ${verb} pool ${poolName}`, () =>
        verb === 'define' ? conn.storagePools.define(xml) : conn.storagePools.create(xml),
      );
      ctx.extra(`Pool ${p.name} ${verb === 'define' ? 'defined' : 'created'}`);
      return true;
    },
  };
}

/** The two commands, for the session's table. */
export const poolAsCommands: readonly CommandDef[] = [
  fromArgs('pool-create-as', 'create', 'create a pool from a set of args'),
  fromArgs('pool-define-as', 'define', 'define a pool from a set of args'),
];

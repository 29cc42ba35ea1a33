/**
 * The volume commands that copy bytes: `vol-clone` (a new volume with
 * another's contents, `virStorageVolCreateXMLFrom`), `vol-upload` and
 * `vol-download` (a local file to or from a volume, through the library's
 * volume streams), as virsh words them.
 *
 * @module
 */
import { closeSync, createReadStream, createWriteStream, openSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { OptSpec, ParsedOpts } from '../args.js';
import { CliError, type CommandDef } from '../command.js';
import { failure, tryTo } from '../libvirt-words.js';
import { IN_POOL, lookupVol, VOL_OPT } from './volume.js';

/** A flag virsh has that the library has no way to pass: refused by name, never ignored. */
function refuseFlags(opts: ParsedOpts, names: readonly string[]): void {
  for (const n of names) {
    if (opts.flag(n)) throw new CliError(`Option --${n} is not supported by virtkit`);
  }
}

const clone: CommandDef = {
  name: 'vol-clone',
  group: 'volume',
  summary: 'clone a volume.',
  description: 'Clone an existing volume within the parent pool.',
  options: [
    VOL_OPT,
    { name: 'newname', kind: 'string', required: true, positional: true, help: 'clone name' },
    IN_POOL,
    {
      name: 'prealloc-metadata',
      kind: 'bool',
      help: 'preallocate metadata (for qcow2 instead of full allocation)',
    },
    { name: 'reflink', kind: 'bool', help: 'use btrfs COW lightweight copy' },
    { name: 'print-xml', kind: 'bool', help: 'print XML document rather than clone the volume' },
  ],
  async run(ctx, opts) {
    const v = await lookupVol(ctx, opts.need('vol'), opts.str('pool'));
    const pool = await tryTo('failed to get parent pool', () => v.getPool());
    const newName = opts.need('newname');
    const [{ parseXml }, { serializeXml }, { firstChild, text }] = await Promise.all([
      import('../../xml/parse.js'),
      import('../../xml/serialize.js'),
      import('../../xml/tree.js'),
    ]);
    // virsh renames the original's document and dumps it with libxml2: the rest as it was
    const doc = parseXml(await tryTo('Failed to get the XML of the volume', () => v.getXML()));
    const nameEl = firstChild(doc, 'name');
    if (!nameEl) throw new CliError('Failed to get the XML of the volume');
    nameEl.children = [text(newName)];
    doc.style = 'libxml';
    const xml = serializeXml(doc);
    if (opts.flag('print-xml')) {
      // libxml2's dump has no final newline: virsh's line break after the command is its end
      ctx.out(xml.trimEnd());
      ctx.noBlankLine();
      return true;
    }
    refuseFlags(opts, ['prealloc-metadata', 'reflink']);
    await tryTo(`Failed to clone vol from ${v.name}`, () => pool.createVolume(xml, { from: v }));
    ctx.extra(`Vol ${newName} cloned from ${v.name}`);
    return true;
  },
};

const RANGE_OPTS = (verb: 'upload to' | 'download from', what: string): OptSpec[] => [
  VOL_OPT,
  { name: 'file', kind: 'string', required: true, positional: true, help: 'file' },
  IN_POOL,
  { name: 'offset', kind: 'number', help: `volume offset to ${verb}` },
  { name: 'length', kind: 'number', help: `amount of data to ${what}` },
  { name: 'sparse', kind: 'bool', help: 'preserve sparseness of volume' },
];

function range(opts: ParsedOpts): { offset: bigint; length: bigint } {
  const num = (name: string) => {
    const t = opts.str(name);
    if (t === undefined) return 0n;
    if (!/^\d+$/.test(t) || BigInt(t) >= 2n ** 64n) {
      throw new CliError(`Numeric value '${t}' for <${name}> option is malformed or out of range`);
    }
    return BigInt(t);
  };
  return { offset: num('offset'), length: num('length') };
}

const upload: CommandDef = {
  name: 'vol-upload',
  group: 'volume',
  summary: 'upload file contents to a volume',
  description: 'Upload file contents to a volume',
  options: RANGE_OPTS('upload to', 'upload'),
  async run(ctx, opts) {
    const r = range(opts);
    const v = await lookupVol(ctx, opts.need('vol'), opts.str('pool'));
    const file = opts.need('file');
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      throw new CliError(`cannot read ${file}`);
    }
    refuseFlags(opts, ['sparse']);
    const input = createReadStream('', { fd });
    try {
      const ws = await tryTo(`cannot upload to volume ${v.name}`, () => v.upload(r));
      try {
        await pipeline(input, ws);
      } catch (e) {
        throw failure(`cannot send data to volume ${v.name}`, e);
      }
    } finally {
      input.destroy();
    }
    return true;
  },
};

const download: CommandDef = {
  name: 'vol-download',
  group: 'volume',
  summary: 'download volume contents to a file',
  description: 'Download volume contents to a file',
  options: RANGE_OPTS('download from', 'download'),
  async run(ctx, opts) {
    const r = range(opts);
    const v = await lookupVol(ctx, opts.need('vol'), opts.str('pool'));
    const file = opts.need('file');
    refuseFlags(opts, ['sparse']);
    // as virsh: a file this command made is removed again when the download fails
    let created = false;
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o666);
      created = true;
    } catch (e) {
      try {
        if ((e as { code?: unknown }).code !== 'EEXIST') throw e;
        fd = openSync(file, 'w');
      } catch {
        throw new CliError(`cannot create ${file}`);
      }
    }
    const removeMade = () => {
      if (created) rmSync(file, { force: true });
    };
    let rs: Awaited<ReturnType<typeof v.download>>;
    try {
      rs = await tryTo(`cannot download from volume ${v.name}`, () => v.download(r));
    } catch (e) {
      closeSync(fd);
      removeMade();
      throw e;
    }
    try {
      // the write stream owns the descriptor from here and closes it
      await pipeline(rs, createWriteStream('', { fd }));
    } catch (e) {
      removeMade();
      throw failure(`cannot receive data from volume ${v.name}`, e);
    }
    return true;
  },
};

/** The commands, for the session's table. */
export const volumeCopyCommands: readonly CommandDef[] = [clone, download, upload];

/**
 * What a CLI command is (its option table, its help, its action) and what
 * it may use while it runs (the session's lazy connection, output, files).
 *
 * Only types and small helpers live here, so command modules and the
 * session depend on this file and never on each other.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import type { Connection } from '../connection.js';
import type { Domain } from '../domain.js';
import { VirError } from '../errors.js';
import type { OptSpec, ParsedOpts } from './args.js';

/** The groups of `help`, named as virsh names its keywords. */
export type CommandGroup =
  | 'domain'
  | 'monitor'
  | 'host'
  | 'network'
  | 'nodedev'
  | 'secret'
  | 'snapshot'
  | 'pool'
  | 'volume'
  | 'virsh';

export interface CommandContext {
  /** The session's connection, opened on first use. */
  conn(): Promise<Connection>;
  /** Looks a domain up by name, id or UUID; a miss fails as virsh words it. */
  domain(key: string): Promise<Domain<Connection>>;
  /** Output that is the command's result. */
  out(line: string): void;
  /** Output that only informs (`Domain 'x' started`); `-q` silences it. */
  extra(line: string): void;
  /** `-q`: tables without their header, no informational lines. */
  readonly quiet: boolean;
  /** A warning on the error stream; the command goes on. */
  warn(line: string): void;
  /** An `error:` line that does not end the command (virsh's notice that a secret on the command line is insecure). */
  error(line: string): void;
  /** A file's text; an unreadable file fails with the reason in words. */
  readFile(path: string): string;
  /** Leaves out the blank line after this command's output (virsh's snapshot messages). */
  noBlankLine(): void;
  /** Output without a line end: the next output line continues it (a prompt, as virsh prints one). */
  prompt(text: string): void;
  /** Aborts when the user interrupts (Ctrl-C) a long-running command such as `event --loop`. */
  readonly signal: AbortSignal;
  /** Changes the session's connection (the `connect` command). */
  reconnect(uri: string | undefined, readonly: boolean): Promise<void>;
  /** The commands of this CLI, for `help`. */
  readonly commands: ReadonlyMap<string, CommandDef>;
  /** The raw terminal, for commands that hand it to the guest (`console`). */
  readonly terminal: Terminal;
  /** The environment ($VISUAL and $EDITOR for the `*-edit` commands). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Byte streams of the user's terminal (process.stdin and process.stdout by default). */
export interface Terminal {
  readonly input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly output: NodeJS.WritableStream;
}

export interface CommandDef {
  readonly name: string;
  readonly group: CommandGroup;
  /** One line for the command list. */
  readonly summary: string;
  /** A sentence or two for `help NAME`. */
  readonly description: string;
  readonly options: readonly OptSpec[];
  /**
   * Runs the command. Resolves `false` when it failed after printing why
   * (`cpu-compare --error` on an incompatible CPU, say); throws otherwise.
   */
  run(ctx: CommandContext, opts: ParsedOpts): Promise<boolean | undefined>;
}

/** A failure already worded for the user: printed as `error: MESSAGE`. */
export class CliError extends Error {}

/** The domain option nearly every command takes, as virsh spells it. */
export const DOMAIN_OPT: OptSpec = {
  name: 'domain',
  kind: 'string',
  required: true,
  positional: true,
  help: 'domain name, id or uuid',
};

export const FILE_OPT: OptSpec = {
  name: 'file',
  kind: 'string',
  required: true,
  positional: true,
  help: 'file containing an XML domain description',
};

/** `--config`, `--live`, `--current` of the commands that change a definition or a guest. */
export const SCOPE_OPTS: readonly OptSpec[] = [
  { name: 'config', kind: 'bool', help: 'affect next boot' },
  { name: 'live', kind: 'bool', help: 'affect running domain' },
  { name: 'current', kind: 'bool', help: 'affect current domain' },
];

/** The scope flags as the library's options; `--current` excludes the others, as in virsh. */
export function scopeOf(opts: ParsedOpts): { config?: boolean; live?: boolean } {
  for (const other of ['live', 'config']) {
    if (opts.flag('current') && opts.flag(other)) {
      throw new CliError(`Options --current and --${other} are mutually exclusive`);
    }
  }
  return {
    ...(opts.flag('config') ? { config: true } : {}),
    ...(opts.flag('live') ? { live: true } : {}),
  };
}

const ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
};

/** Reads a text file; failure becomes virsh's `Failed to open file 'F': reason`. */
export function readTextFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const why = typeof code === 'string' ? (ERRNO_WORDS[code] ?? code) : String(e);
    throw new CliError(`Failed to open file '${path}': ${why}`);
  }
}

/**
 * Runs a library call; a failure is reworded as `context: cause`, so the
 * one error line says both what was tried and why it failed.
 */
export async function attempt<T>(context: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${context}: ${describeError(e)}`);
  }
}

/** An error's message with the XML line and column when it has them and does not say them. */
export function describeError(e: unknown): string {
  if (e instanceof VirError) {
    const at =
      e.line !== undefined && !/\bline \d+/.test(e.message)
        ? ` (line ${e.line}${e.column !== undefined ? `, column ${e.column}` : ''})`
        : '';
    return `${e.message}${at}`;
  }
  return e instanceof Error ? e.message : String(e);
}

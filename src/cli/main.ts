/**
 * `virtkit`: virsh's command language on any virtkit driver.
 *
 *   virtkit [OPTIONS] [COMMAND_STRING]      one argument: `;`-separated commands
 *   virtkit [OPTIONS] COMMAND [ARGS...]     several arguments: one command
 *   virtkit [OPTIONS]                       the interactive shell
 *
 * The URI is `-c`/`--connect`, else $VIRTKIT_DEFAULT_URI, else
 * $LIBVIRT_DEFAULT_URI, else `test:///default`. As with virsh, every
 * mistake (unknown option or command, extra argument, a failed call)
 * prints `error: ...` and exits 1.
 *
 * This module is the command as a function ({@link main}); `bin.ts` is the
 * program that runs it.
 *
 * @module
 */
import { splitCommandString, UsageError } from './args.js';
import type { Terminal } from './command.js';
import { virtkitVersion } from './commands/host.js';
import { usage } from './help.js';
import { COMMANDS, type Out, Session } from './session.js';

/** Where the CLI reads and writes; tests pass their own. */
export interface CliIo {
  env?: Readonly<Record<string, string | undefined>>;
  /** Input of the interactive shell (process.stdin by default). */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /**
   * The terminal `console` attaches to a guest and `secret-set-value --interactive` reads from
   * (process.stdin and process.stdout by default).
   */
  terminal?: Terminal;
}

interface GlobalOptions {
  uri: string | undefined;
  quiet: boolean;
  readonly: boolean;
  /** What to print instead of running anything (help, version), if asked. */
  answer: string[] | undefined;
  words: string[];
}

const WITH_VALUE: Readonly<Record<string, string>> = { c: 'connect', connect: 'connect' };

/** virsh's global options, getopt style: they stop at the first word that is not one. */
function parseGlobal(argv: readonly string[]): GlobalOptions {
  const g: GlobalOptions = { uri: undefined, quiet: false, readonly: false, answer: undefined, words: [] };
  let i = 0;
  const take = (long: string): string => {
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`option '-${long[0]}'/'--${long}' requires an argument`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const inline = eq < 0 ? undefined : a.slice(eq + 1);
      if (name === 'connect') g.uri = inline ?? take('connect');
      else if (name === 'quiet' && inline === undefined) g.quiet = true;
      else if (name === 'readonly' && inline === undefined) g.readonly = true;
      else if (name === 'help' && inline === undefined) g.answer ??= usage(COMMANDS.values());
      else if (name === 'version') {
        if (inline !== undefined && inline !== 'short' && inline !== 'long') {
          throw new UsageError(`unknown option '--version=${inline}'`);
        }
        g.answer ??= inline === 'long' ? longVersion() : [virtkitVersion()];
      } else throw new UsageError(`unsupported option '${name === '' ? a : `--${name}`}'. See --help.`);
      continue;
    }
    // A cluster of short options, `-qr` or `-cURI`.
    for (let j = 1; j < a.length; j++) {
      const c = a[j] as string;
      if (WITH_VALUE[c]) {
        g.uri = j + 1 < a.length ? a.slice(j + 1) : take('connect');
        break;
      }
      if (c === 'q') g.quiet = true;
      else if (c === 'r') g.readonly = true;
      else if (c === 'h') g.answer ??= usage(COMMANDS.values());
      else if (c === 'v') g.answer ??= [virtkitVersion()];
      else if (c === 'V') g.answer ??= longVersion();
      else throw new UsageError(`unsupported option '-${c}'. See --help.`);
    }
  }
  g.words = argv.slice(i);
  return g;
}

function longVersion(): string[] {
  return [`virtkit command line tool, virtkit ${virtkitVersion()}`, '', 'Drivers: test remote qemu'];
}

/** Runs the CLI; resolves to the exit status. */
export async function main(
  argv: readonly string[],
  out: Out = (l) => process.stdout.write(`${l}\n`),
  err: Out = (l) => process.stderr.write(`${l}\n`),
  io: CliIo = {},
): Promise<number> {
  const env = io.env ?? process.env;
  let g: GlobalOptions;
  let commands: string[][] | undefined;
  try {
    g = parseGlobal(argv);
    if (g.words.length === 1) commands = splitCommandString(g.words[0] as string);
    else if (g.words.length > 1) commands = [g.words];
  } catch (e) {
    err(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  if (g.answer) {
    for (const l of g.answer) out(l);
    return 0;
  }
  const uri = g.uri ?? env.VIRTKIT_DEFAULT_URI ?? env.LIBVIRT_DEFAULT_URI ?? undefined;
  const session = new Session({
    uri: uri || undefined,
    readonly: g.readonly,
    quiet: g.quiet,
    out,
    err,
    ...(io.terminal ? { terminal: io.terminal } : {}),
    env,
  });
  try {
    if (commands === undefined) {
      const { runShell } = await import('./interactive.js');
      await runShell(session, { stdin: io.stdin ?? process.stdin, quiet: g.quiet, out, err });
      return 0;
    }
    const onInterrupt = () => {
      if (!session.interrupt()) process.exit(130);
    };
    const direct = io.stdin === undefined;
    if (direct) process.on('SIGINT', onInterrupt);
    try {
      return (await session.run(commands)).ok ? 0 : 1;
    } finally {
      if (direct) process.off('SIGINT', onInterrupt);
    }
  } finally {
    await session.close();
  }
}

/**
 * One CLI session: the connection (opened on first use and kept for the
 * whole chain or shell, so `define f.xml; start vm1` works on `test:///`),
 * the command table, and running a line of commands as virsh runs it.
 *
 * The library is imported only when a command first needs a connection,
 * so `--help`, `--version` and file-only commands start without loading
 * any driver.
 *
 * @module
 */
import type { Connection } from '../connection.js';
import type { Domain } from '../domain.js';
import { isVirError } from '../errors.js';
import { parseOptions, UsageError } from './args.js';
import {
  CliError,
  type CommandContext,
  type CommandDef,
  describeError,
  readTextFile,
  type Terminal,
} from './command.js';
import { consoleCommands } from './commands/console.js';
import { cpuCommands } from './commands/cpu.js';
import { domainControlCommands } from './commands/domain-control.js';
import { domainInfoCommands } from './commands/domain-info.js';
import { editCommands } from './commands/edit.js';
import { eventCommands } from './commands/events.js';
import { fleetPlanCommands } from './commands/fleet-plan.js';
import { hostCommands } from './commands/host.js';
import { networkCommands } from './commands/network.js';
import { networkPortCommands } from './commands/network-ports.js';
import { nodedevCommands } from './commands/nodedev.js';
import { objectEventCommands } from './commands/object-events.js';
import { poolCommands } from './commands/pool.js';
import { poolAsCommands } from './commands/pool-as.js';
import { secretCommands } from './commands/secret.js';
import { shellCommands } from './commands/shell.js';
import { snapshotCommands } from './commands/snapshot.js';
import { volumeCommands } from './commands/volume.js';
import { volumeCopyCommands } from './commands/volume-copy.js';
import { commandHelp } from './help.js';

export type Out = (line: string) => void;

/** Every command, by name. */
export const COMMANDS: ReadonlyMap<string, CommandDef> = new Map(
  [
    ...domainInfoCommands,
    ...domainControlCommands,
    ...consoleCommands,
    ...eventCommands,
    ...editCommands,
    ...objectEventCommands,
    ...snapshotCommands,
    ...hostCommands,
    ...cpuCommands,
    ...fleetPlanCommands,
    ...networkCommands,
    ...networkPortCommands,
    ...nodedevCommands,
    ...secretCommands,
    ...poolCommands,
    ...poolAsCommands,
    ...volumeCommands,
    ...volumeCopyCommands,
    ...shellCommands,
  ].map((c) => [c.name, c]),
);

export interface SessionOptions {
  /** The URI to open; undefined means the default (`test:///default`). */
  uri: string | undefined;
  readonly: boolean;
  /** `-q`: no informational messages, no blank line after each command. */
  quiet: boolean;
  out: Out;
  err: Out;
  /** The terminal `console` attaches to the guest; default process.stdin and process.stdout. */
  terminal?: Terminal;
  /** The environment commands read ($VISUAL, $EDITOR, $TMPDIR); default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** What running a line gave: whether its last command succeeded, and whether it asked to quit. */
export interface LineResult {
  ok: boolean;
  quit: boolean;
}

interface Planned {
  def: CommandDef;
  opts: ReturnType<typeof parseOptions> | undefined;
}

export class Session {
  readonly #o: SessionOptions;
  #uri: string | undefined;
  #readonly: boolean;
  #conn: Connection | undefined;
  #current: AbortController | undefined;

  // a prompt written without its line end (virsh's `Enter new value for secret:`): the next
  // line on the output continues it, as on virsh's stdout
  #pendingOut = '';

  constructor(options: SessionOptions) {
    const out = options.out;
    this.#o = {
      ...options,
      out: (line) => {
        const head = this.#pendingOut;
        this.#pendingOut = '';
        out(head + line);
      },
    };
    this.#uri = options.uri;
    this.#readonly = options.readonly;
  }

  /** Stops the command that is running (Ctrl-C): `event --loop` ends, others are not interrupted. */
  interrupt(): boolean {
    if (!this.#current) return false;
    this.#current.abort();
    return true;
  }

  /**
   * Runs commands given as words. Every command is parsed first, so a typo
   * anywhere on the line runs nothing; then they run in order, each
   * failure reported, and the line's status is its last command's.
   */
  async run(commands: readonly (readonly string[])[]): Promise<LineResult> {
    let plan: Planned[];
    try {
      plan = commands.map((words) => this.#plan(words));
    } catch (e) {
      this.#o.err(`error: ${describeError(e)}`);
      return { ok: false, quit: false };
    }
    let ok = true;
    for (const { def, opts } of plan) {
      if (def.name === 'quit' || def.name === 'exit') return { ok, quit: true };
      let blank = !this.#o.quiet;
      const abort = new AbortController();
      this.#current = abort;
      try {
        if (!opts) {
          for (const l of commandHelp(def)) this.#o.out(l);
          ok = true;
        } else {
          ok =
            (await def.run(
              this.#context(abort.signal, () => (blank = false)),
              opts,
            )) !== false;
        }
      } catch (e) {
        ok = false;
        this.#o.err(`error: ${describeError(e)}`);
      } finally {
        this.#current = undefined;
      }
      if (blank) this.#o.out('');
    }
    if (this.#pendingOut !== '') this.#o.out('');
    return { ok, quit: false };
  }

  async close(): Promise<void> {
    const c = this.#conn;
    this.#conn = undefined;
    await c?.close().catch(() => {});
  }

  /** A command and its options; `undefined` options mean `NAME --help`. */
  #plan(words: readonly string[]): Planned {
    const [name, ...rest] = words;
    const def = name === undefined ? undefined : COMMANDS.get(name);
    if (!def) throw new UsageError(`unknown command: '${name ?? ''}'`);
    if (rest.length === 1 && rest[0] === '--help' && !def.options.some((o) => o.name === 'help')) {
      return { def, opts: undefined };
    }
    return { def, opts: parseOptions(def.name, def.options, rest) };
  }

  async #connection(): Promise<Connection> {
    if (this.#conn) return this.#conn;
    const uri = this.#uri ?? 'test:///default';
    try {
      const { connect } = await import('../connection.js');
      this.#conn = await connect(uri, { readonly: this.#readonly });
    } catch (e) {
      throw new CliError(`failed to connect to the hypervisor: ${describeError(e)}`);
    }
    return this.#conn;
  }

  #context(signal: AbortSignal, noBlank: () => void): CommandContext {
    const o = this.#o;
    return {
      conn: () => this.#connection(),
      domain: async (key: string): Promise<Domain<Connection>> => {
        const conn = await this.#connection();
        // virsh tries an id first for a number, then a UUID, then a name.
        try {
          if (/^\d+$/.test(key)) {
            try {
              return await conn.lookupDomain(Number(key));
            } catch (e) {
              if (!isVirError(e, 'NO_DOMAIN')) throw e;
            }
          }
          return await conn.lookupDomain(key);
        } catch (e) {
          if (isVirError(e, 'NO_DOMAIN')) throw new CliError(`failed to get domain '${key}'`);
          throw e;
        }
      },
      out: o.out,
      extra: (line) => {
        if (!o.quiet) o.out(line);
      },
      quiet: o.quiet,
      warn: (line) => o.err(`warning: ${line}`),
      error: (line) => o.err(`error: ${line}`),
      readFile: readTextFile,
      noBlankLine: noBlank,
      prompt: (text) => {
        this.#pendingOut += text;
      },
      signal,
      // a getter: touching process.stdin opens it (and loads Node's stream and
      // tty modules), which only `console` needs
      get terminal(): Terminal {
        return o.terminal ?? { input: process.stdin, output: process.stdout };
      },
      reconnect: async (uri, readonly) => {
        await this.close();
        if (uri !== undefined) this.#uri = uri;
        this.#readonly = readonly;
        await this.#connection();
      },
      commands: COMMANDS,
      env: o.env ?? process.env,
    };
  }
}

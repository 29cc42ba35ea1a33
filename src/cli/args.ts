/**
 * Command-line parsing with virsh's rules: a command string is split into
 * commands at `;` and newlines (quotes and backslashes as in a shell), and
 * each command's words are matched against its option table.
 *
 * An option is `--name value`, `--name=value` or, for the options a command
 * lets be positional, a bare word filling the next one still unset. Anything
 * left over, an unknown option or a missing required one is a
 * {@link UsageError}, raised before any command of the line runs.
 *
 * @module
 */

/** A mistake in how the command was typed: printed as `error: ...`, exit status 1. */
export class UsageError extends Error {}

/**
 * `argv` is virsh's `VSH_OT_ARGV`: a string option that may be given again
 * (`--diskspec a --diskspec b`) and takes every bare word left once the
 * other positional options are filled.
 */
export type OptKind = 'bool' | 'string' | 'number' | 'argv';

export interface OptSpec {
  readonly name: string;
  readonly kind: OptKind;
  readonly help: string;
  /** Must be given (positional or not). */
  readonly required?: boolean;
  /** May be given as a bare word, in the order of the table. */
  readonly positional?: boolean;
  /**
   * Help shows it as `--name <string>` although a bare word may fill it: virsh's
   * optional positional strings (`pool-define-as NAME TYPE HOST PATH ...`).
   */
  readonly helpAsOption?: boolean;
}

/** What a command's words parsed to: option name → value (`true` for a flag). */
export class ParsedOpts {
  readonly #values = new Map<string, string | true>();
  readonly #lists = new Map<string, string[]>();

  set(name: string, value: string | true): void {
    this.#values.set(name, value);
  }

  /** Adds one value of an `argv` option. */
  add(name: string, value: string): void {
    const list = this.#lists.get(name);
    if (list) list.push(value);
    else this.#lists.set(name, [value]);
  }

  has(name: string): boolean {
    return this.#values.has(name) || this.#lists.has(name);
  }

  /** Every value of an `argv` option, in the order given. */
  list(name: string): readonly string[] {
    return this.#lists.get(name) ?? [];
  }

  flag(name: string): boolean {
    return this.#values.get(name) === true;
  }

  /** The value of a data option, or undefined when it was not given. */
  str(name: string): string | undefined {
    const v = this.#values.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  /** The value of a required data option (the parser has checked it is there). */
  need(name: string): string {
    const v = this.str(name);
    if (v === undefined) throw new UsageError(`option --${name} is required`);
    return v;
  }
}

/**
 * Matches one command's words against its options, as virsh does.
 * `command` is the command's name, for the messages.
 */
export function parseOptions(
  command: string,
  specs: readonly OptSpec[],
  words: readonly string[],
): ParsedOpts {
  const opts = new ParsedOpts();
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (word.startsWith('--') && word.length > 2) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const spec = byName.get(name);
      if (!spec) throw new UsageError(`command '${command}' doesn't support option --${name}`);
      if (opts.has(name) && spec.kind !== 'argv') throw new UsageError(`option --${name} already seen`);
      if (spec.kind === 'bool') {
        if (eq >= 0) throw new UsageError(`invalid '=' after option --${name}`);
        opts.set(name, true);
        continue;
      }
      let value: string | undefined;
      if (eq >= 0) value = word.slice(eq + 1);
      else {
        value = words[i + 1];
        i++;
      }
      if (value === undefined) throw new UsageError(`expected syntax: --${name} <${shownKind(spec)}>`);
      if (spec.kind === 'argv') opts.add(name, value);
      else opts.set(name, value);
      continue;
    }
    const next = specs.find(
      (s) => s.positional && s.kind !== 'bool' && (s.kind === 'argv' || !opts.has(s.name)),
    );
    if (!next) throw new UsageError(`unexpected data '${word}'`);
    if (next.kind === 'argv') opts.add(next.name, word);
    else opts.set(next.name, word);
  }
  for (const s of specs) {
    if (s.required && !opts.has(s.name)) {
      throw new UsageError(`command '${command}' requires <${s.name}> option`);
    }
  }
  return opts;
}

/** The kind help and syntax errors show: an `argv` option's values are strings. */
export function shownKind(spec: OptSpec): string {
  return spec.kind === 'argv' ? 'string' : spec.kind;
}

/**
 * Splits a command string into commands, each a list of words: `;` and
 * newlines end a command, blanks separate words, `'...'` is literal,
 * `"..."` keeps blanks and honours backslash escapes, and `#` at the start
 * of a word comments out the rest of the line.
 */
export function splitCommandString(input: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word: string | undefined;
  const endWord = () => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as string;
    if (c === ';' || c === '\n') endCommand();
    else if (c === ' ' || c === '\t' || c === '\r') endWord();
    else if (c === '#' && word === undefined) {
      while (i + 1 < input.length && input[i + 1] !== '\n') i++;
    } else if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw new UsageError("missing '");
      word = (word ?? '') + input.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let s = '';
      let j = i + 1;
      for (; j < input.length && input[j] !== '"'; j++) {
        if (input[j] === '\\' && j + 1 < input.length) j++;
        s += input[j];
      }
      if (j >= input.length) throw new UsageError('missing "');
      word = (word ?? '') + s;
      i = j;
    } else if (c === '\\' && i + 1 < input.length) {
      word = (word ?? '') + input[i + 1];
      i++;
    } else word = (word ?? '') + c;
  }
  endCommand();
  return commands;
}

/**
 * A size as virsh's scaled integers: a number with an optional unit
 * (`b`, `k`/`KiB`, `KB`, `M`/`MiB`, `MB`, `G`, `T`), KiB when none is
 * given. Returns KiB, rounded up.
 */
export function parseScaledKiB(value: string, option: string): number {
  const bad = () =>
    new UsageError(`Scaled numeric value '${value}' for <${option}> option is malformed or out of range`);
  const m = /^(\d+)([A-Za-z]*)$/.exec(value);
  if (!m) throw bad();
  const unit = (m[2] as string).toLowerCase();
  // [base, power]: 'KB' is 1000 bytes, 'K' and 'KiB' are 1024, as libvirt reads them.
  const scale = UNITS[unit === '' ? 'k' : unit];
  if (!scale) throw bad();
  const bytes = BigInt(m[1] as string) * scale[0] ** scale[1];
  const kib = (bytes + 1023n) / 1024n;
  if (kib > BigInt(Number.MAX_SAFE_INTEGER)) throw bad();
  return Number(kib);
}

const UNITS: Readonly<Record<string, readonly [bigint, bigint]>> = {
  b: [1n, 0n],
  bytes: [1n, 0n],
  k: [1024n, 1n],
  kib: [1024n, 1n],
  kb: [1000n, 1n],
  m: [1024n, 2n],
  mib: [1024n, 2n],
  mb: [1000n, 2n],
  g: [1024n, 3n],
  gib: [1024n, 3n],
  gb: [1000n, 3n],
  t: [1024n, 4n],
  tib: [1024n, 4n],
  tb: [1000n, 4n],
};

/** A non-negative integer option, or a {@link UsageError} naming it. */
export function parseCount(value: string, option: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`Numeric value '${value}' for <${option}> option is malformed or out of range`);
  }
  return Number(value);
}

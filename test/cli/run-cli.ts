/** Runs the CLI in-process and collects what it prints. */
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function runCli(
  argv: string[],
  opts: {
    env?: Record<string, string | undefined>;
    stdin?: string;
    /** What the terminal gives (`secret-set-value --interactive`); a pipe, not a TTY. */
    terminalInput?: string;
  } = {},
): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    argv,
    (l) => out.push(l),
    (l) => err.push(l),
    {
      env: opts.env ?? {},
      stdin: Readable.from(opts.stdin === undefined ? [] : [opts.stdin]),
      ...(opts.terminalInput === undefined
        ? {}
        : {
            terminal: { input: Readable.from([Buffer.from(opts.terminalInput)]), output: new PassThrough() },
          }),
    },
  );
  return { code, out: out.map((l) => `${l}\n`).join(''), err: err.map((l) => `${l}\n`).join('') };
}

/** virsh's test-driver `dominfo` lines that virtkit's library has no call for. */
export function withoutUnsupportedLines(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^(OS Type|CPU time|Security (model|DOI|label)):/.test(l))
    .join('\n');
}

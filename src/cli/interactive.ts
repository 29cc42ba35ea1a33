/**
 * The interactive shell: one line at a time from stdin, each line a
 * `;`-separated chain run in the same session, until `quit`, `exit` or the
 * end of input. A prompt and a welcome only when stdin is a terminal, so
 * `virtkit < script` prints just the commands' output.
 *
 * @module
 */
import { createInterface } from 'node:readline';
import { splitCommandString } from './args.js';
import { describeError } from './command.js';
import type { Out, Session } from './session.js';

export interface ShellOptions {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  quiet: boolean;
  out: Out;
  err: Out;
}

export async function runShell(session: Session, { stdin, quiet, out, err }: ShellOptions): Promise<void> {
  const tty = stdin.isTTY === true;
  if (tty && !quiet) {
    out('Welcome to virtkit, the virtualization interactive terminal.');
    out('');
    out("Type:  'help' for help with commands");
    out("       'quit' to quit");
    out('');
  }
  const rl = createInterface({
    input: stdin,
    ...(tty ? { output: process.stdout, terminal: true } : { terminal: false }),
  });
  const prompt = process.getuid?.() === 0 ? 'virtkit # ' : 'virtkit $ ';
  rl.setPrompt(tty ? prompt : '');
  // Ctrl-C stops a running `event --loop`; at the prompt it just gives a fresh one.
  rl.on('SIGINT', () => {
    if (!session.interrupt()) {
      out('');
      rl.prompt();
    }
  });
  if (tty) rl.prompt();
  try {
    for await (const line of rl) {
      let commands: string[][];
      try {
        commands = splitCommandString(line);
      } catch (e) {
        err(`error: ${describeError(e)}`);
        continue;
      }
      if ((await session.run(commands)).quit) break;
      if (tty) rl.prompt();
    }
  } finally {
    rl.close();
  }
}

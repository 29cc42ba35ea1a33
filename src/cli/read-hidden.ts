/**
 * One line read from the user's terminal without echo, for
 * `secret-set-value --interactive` (what virsh gets from getpass(3)).
 *
 * On a terminal the input goes raw, so nothing typed is shown; the line ends
 * at Enter, Backspace takes back a byte, Ctrl-C gives up and Ctrl-D on an
 * empty line ends the input. From a pipe or file the first line is taken,
 * its line end dropped, and what follows it is left in the stream. The bytes
 * are returned as typed: the caller owns them and wipes them after use.
 *
 * @module
 */
import type { Terminal } from './command.js';

const ENTER = new Set([0x0a, 0x0d]);
const BACKSPACE = new Set([0x08, 0x7f]);
const CTRL_C = 0x03;
const CTRL_D = 0x04;
/** A secret longer than this is not typed at a prompt; the read gives up instead of growing. */
const MAX_LINE = 64 * 1024;

type Input = Terminal['input'] & { unshift?: (chunk: Buffer) => void; readableEnded?: boolean };

/**
 * Resolves with the line's bytes, or `undefined` when the user gave up (Ctrl-C, `signal`) or the
 * line was too long. An input that has ended already gives an empty line, as getpass(3) does.
 */
export function readHiddenLine(terminal: Terminal, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  const input = terminal.input as Input;
  const tty = input.isTTY === true && typeof input.setRawMode === 'function';
  if (input.readableEnded === true) return Promise.resolve(new Uint8Array(0));
  return new Promise((resolve, reject) => {
    const bytes: number[] = [];
    let settled = false;
    const finish = (value: Uint8Array | undefined, rest?: Buffer) => {
      if (settled) return;
      settled = true;
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      input.pause();
      if (rest && rest.length > 0) input.unshift?.(rest);
      if (tty) {
        input.setRawMode?.(false);
        // the Enter the terminal did not echo
        terminal.output.write('\n');
      }
      bytes.fill(0);
      resolve(value);
    };
    const onAbort = () => finish(undefined);
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      for (let i = 0; i < buf.length; i++) {
        const b = buf[i] as number;
        if (b === 0x0a || (tty && ENTER.has(b))) {
          const line = Uint8Array.from(bytes);
          buf.fill(0, 0, i);
          finish(line, buf.subarray(i + 1));
          return;
        }
        if (tty && b === CTRL_C) return finish(undefined);
        if (tty && b === CTRL_D && bytes.length === 0) return finish(new Uint8Array(0));
        if (tty && BACKSPACE.has(b)) {
          if (bytes.length > 0) bytes[bytes.length - 1] = 0;
          bytes.pop();
          continue;
        }
        if (bytes.length >= MAX_LINE) return finish(undefined);
        bytes.push(b);
      }
      buf.fill(0);
    };
    const onEnd = () => finish(Uint8Array.from(bytes));
    const onError = (err: Error) => {
      if (settled) return;
      settled = true;
      bytes.fill(0);
      reject(err);
    };
    if (signal?.aborted) return resolve(undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (tty) input.setRawMode?.(true);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

/**
 * `console`: attaches the terminal to a guest's console, as `virsh console`
 * does. Bytes typed go to the guest and what it writes is shown, untouched
 * (the terminal is put in raw mode); Ctrl-] detaches. It also ends when the
 * guest stops or another session takes the console with `--force`.
 *
 * @module
 */
import { CliError, type CommandDef, DOMAIN_OPT } from '../command.js';

/** Ctrl-], virsh's escape character. */
const ESCAPE = 0x1d;

const consoleCommand: CommandDef = {
  name: 'console',
  group: 'domain',
  summary: 'connect to the guest console',
  description: 'Connect the virtual serial console for the guest',
  options: [
    DOMAIN_OPT,
    { name: 'devname', kind: 'string', help: 'character device name' },
    { name: 'force', kind: 'bool', help: 'force console connection (disconnect already connected sessions)' },
    { name: 'safe', kind: 'bool', help: 'only connect if safe console handling is supported' },
  ],
  async run(ctx, opts) {
    const dom = await ctx.domain(opts.need('domain'));
    const stream = await dom.openConsole(opts.str('devname'), opts.flag('force') ? { force: true } : {});
    ctx.extra(`Connected to domain '${dom.name}'`);
    ctx.extra('Escape character is ^] (Ctrl + ])');
    const { input, output } = ctx.terminal;
    const raw = input.isTTY === true && typeof input.setRawMode === 'function';
    if (raw) input.setRawMode?.(true);
    try {
      await new Promise<void>((resolve) => {
        const onInput = (chunk: Buffer | string) => {
          const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          const at = bytes.indexOf(ESCAPE);
          if (at < 0) {
            stream.write(bytes);
            return;
          }
          if (at > 0) stream.write(bytes.subarray(0, at));
          finish();
        };
        const onOutput = (chunk: Buffer | string) => output.write(chunk);
        const finish = () => {
          input.off('data', onInput);
          input.off('end', finish);
          stream.off('data', onOutput);
          ctx.signal.removeEventListener('abort', finish);
          resolve();
        };
        input.on('data', onInput);
        input.once('end', finish);
        stream.on('data', onOutput);
        stream.once('close', finish);
        stream.once('end', finish);
        ctx.signal.addEventListener('abort', finish, { once: true });
        input.resume();
      });
    } finally {
      if (raw) input.setRawMode?.(false);
      input.pause();
      stream.destroy();
    }
    if (ctx.signal.aborted) throw new CliError('console interrupted');
    return true;
  },
};

export const consoleCommands: readonly CommandDef[] = [consoleCommand];

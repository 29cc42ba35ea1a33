/**
 * The shell's own commands: `help`, `quit`, `exit`, `connect`, `echo`.
 *
 * @module
 */
import { CliError, type CommandDef } from '../command.js';
import { commandHelp, commandList, GROUPS } from '../help.js';

const help: CommandDef = {
  name: 'help',
  group: 'virsh',
  summary: 'print help',
  description: 'Prints global help, command specific help, or help for a group of related commands',
  options: [
    {
      name: 'command',
      kind: 'string',
      positional: true,
      help: 'Prints global help, command specific help, or help for a group of related commands',
    },
  ],
  async run(ctx, opts) {
    const name = opts.str('command');
    if (name === undefined) {
      ctx.out('Grouped commands:');
      ctx.out('');
      for (const l of commandList(ctx.commands.values())) ctx.out(l);
      return true;
    }
    const group = GROUPS.find((g) => g === name);
    const def = ctx.commands.get(name);
    if (def) for (const l of commandHelp(def)) ctx.out(l);
    else if (group) for (const l of commandList(ctx.commands.values(), group)) ctx.out(l);
    else throw new CliError(`command or command group '${name}' doesn't exist`);
    return true;
  },
};

/** `quit` and `exit` are recognised by the session, which stops there. */
const quit: CommandDef = {
  name: 'quit',
  group: 'virsh',
  summary: 'quit this interactive terminal',
  description: '',
  options: [],
  async run() {
    return true;
  },
};

const connect: CommandDef = {
  name: 'connect',
  group: 'virsh',
  summary: '(re)connect to hypervisor',
  description: 'Connect to local hypervisor. This is built-in command after shell start up.',
  options: [
    { name: 'name', kind: 'string', positional: true, help: 'hypervisor connection URI' },
    { name: 'readonly', kind: 'bool', help: 'read-only connection' },
  ],
  async run(ctx, opts) {
    await ctx.reconnect(opts.str('name'), opts.flag('readonly'));
    return true;
  },
};

export const shellCommands: readonly CommandDef[] = [help, quit, { ...quit, name: 'exit' }, connect];

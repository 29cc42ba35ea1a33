/**
 * Help text laid out as virsh lays it out: `help` lists the commands by
 * group, `help NAME` (or `NAME --help`) shows NAME, SYNOPSIS, DESCRIPTION
 * and OPTIONS.
 *
 * @module
 */
import { shownKind } from './args.js';
import type { CommandDef, CommandGroup } from './command.js';

const GROUP_TITLES: Readonly<Record<CommandGroup, string>> = {
  domain: 'Domain Management',
  monitor: 'Domain Monitoring',
  host: 'Host and Hypervisor',
  network: 'Networking',
  nodedev: 'Node Device',
  secret: 'Secret',
  snapshot: 'Snapshot',
  pool: 'Storage Pool',
  volume: 'Storage Volume',
  virsh: 'Virsh itself',
};

export const GROUPS = Object.keys(GROUP_TITLES) as CommandGroup[];

/** `help`, or `help KEYWORD` for one group. */
export function commandList(commands: Iterable<CommandDef>, group?: CommandGroup): string[] {
  const all = [...commands];
  const lines: string[] = [];
  for (const g of group ? [group] : GROUPS) {
    lines.push(` ${GROUP_TITLES[g]} (help keyword '${g}'):`);
    for (const c of all.filter((d) => d.group === g)) lines.push(`    ${c.name.padEnd(30)} ${c.summary}`);
    lines.push('');
  }
  return lines;
}

/** `help NAME`. */
export function commandHelp(def: CommandDef): string[] {
  const synopsis = def.options.map((o) => {
    if (o.kind === 'bool') return ` [--${o.name}]`;
    // virsh shows a repeatable option as `[[--name] <string>]...`
    if (o.kind === 'argv') return ` [[--${o.name}] <string>]...`;
    const shown = o.positional && !o.helpAsOption ? `<${o.name}>` : `--${o.name} <${o.kind}>`;
    return o.required ? ` ${shown}` : ` [${shown}]`;
  });
  const lines = [
    '  NAME',
    `    ${def.name} - ${def.summary}`,
    '',
    '  SYNOPSIS',
    `    ${def.name}${synopsis.join('')}`,
  ];
  if (def.description) lines.push('', '  DESCRIPTION', `    ${def.description}`);
  if (def.options.length > 0) {
    lines.push('', '  OPTIONS');
    for (const o of def.options) {
      const left =
        o.kind === 'bool'
          ? `--${o.name}`
          : o.positional && !o.helpAsOption
            ? `[--${o.name}] <${shownKind(o)}>`
            : `--${o.name} <${shownKind(o)}>`;
      lines.push(`    ${left.padEnd(15)}  ${o.help}`);
    }
  }
  lines.push('');
  return lines;
}

/** `virtkit --help`. */
export function usage(commands: Iterable<CommandDef>): string[] {
  return [
    'virtkit [options]... [<command_string>]',
    'virtkit [options]... <command> [args...]',
    '',
    '  options:',
    '    -c | --connect=URI      hypervisor connection URI',
    '    -h | --help             this help',
    '    -q | --quiet            quiet mode',
    '    -r | --readonly         connect readonly',
    '    -v                      short version',
    '    -V                      long version',
    '         --version[=TYPE]   version, TYPE is short or long (default short)',
    '  commands (non interactive mode):',
    '',
    ...commandList(commands),
    '  (specify help <group> for details about the commands in the group)',
    '',
    '  (specify help <command> for details about the command)',
    '',
  ];
}

/**
 * The skeleton the commands of the objects next to domains share (pools
 * and networks): `*-define`/`*-create` from a file, a lookup-call-report
 * action, `*-dumpxml`, `*-autostart`, and `*-list`'s state filters, each
 * worded as virsh words it for that kind.
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { OptSpec, ParsedOpts } from '../args.js';
import type { CommandContext, CommandDef } from '../command.js';
import { tryTo } from '../libvirt-words.js';
import { printXml, XPATH_OPTIONS } from '../xpath-view.js';

/** What the shared commands need of an object. */
export interface CliObject {
  readonly name: string;
  getXML(opts: { inactive?: boolean }): Promise<string>;
  setAutostart(on: boolean): Promise<void>;
}

/** One kind of object as its commands name it. */
export interface ObjectKind<T extends CliObject> {
  /** The command group and the word in messages: `pool`, `network`. */
  readonly group: 'pool' | 'network';
  /** The capitalised word of the success lines: `Pool`, `Network`. */
  readonly title: string;
  /** The positional option naming the object (its `name` is the key). */
  readonly opt: OptSpec;
  /** The positional XML file option of define and create. */
  readonly fileOpt: OptSpec;
  lookup(ctx: CommandContext, key: string): Promise<T>;
  define(conn: Connection, xml: string): Promise<T>;
  create(conn: Connection, xml: string): Promise<T>;
}

export function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

/** `*-list`'s filters: --all and --inactive together ask for both states; both or neither of --persistent, --transient for both. */
export function listFilter(opts: ParsedOpts): { active?: boolean; persistent?: boolean } {
  const active = opts.flag('all') ? undefined : !opts.flag('inactive');
  const persistent = opts.flag('persistent') === opts.flag('transient') ? undefined : opts.flag('persistent');
  return {
    ...(active === undefined ? {} : { active }),
    ...(persistent === undefined ? {} : { persistent }),
  };
}

/** Sorts by name in code-unit order, as virsh's lists. */
export function sortByName<T extends { readonly name: string }>(items: T[]): T[] {
  return items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The commands every kind has, worded for `kind`. */
export function objectCommands<T extends CliObject>(kind: ObjectKind<T>) {
  const key = kind.opt.name;
  return {
    /** `*-define` or `*-create` from an XML file. */
    fromFile(name: string, verb: 'define' | 'create', done: string, summary: string): CommandDef {
      return {
        name,
        group: kind.group,
        summary,
        description: `${verb === 'define' ? 'Define' : 'Create'} a ${kind.group} from an XML file.`,
        options: [kind.fileOpt],
        async run(ctx, opts) {
          const file = opts.need('file');
          const xml = ctx.readFile(file);
          const conn = await ctx.conn();
          const o = await tryTo(`Failed to ${verb} ${kind.group} from ${file}`, () =>
            verb === 'define' ? kind.define(conn, xml) : kind.create(conn, xml),
          );
          ctx.extra(`${kind.title} ${o.name} ${done} from ${file}`);
          return true;
        },
      };
    },

    /** A command that looks the object up, runs one call and says so as virsh does. */
    action(
      name: string,
      summary: string,
      verb: string,
      done: string,
      run: (o: T, opts: ParsedOpts) => Promise<void>,
      extra: readonly OptSpec[] = [],
    ): CommandDef {
      return {
        name,
        group: kind.group,
        summary,
        description: `${summary[0]?.toUpperCase()}${summary.slice(1)}.`,
        options: [kind.opt, ...extra],
        async run(ctx, opts) {
          const o = await kind.lookup(ctx, opts.need(key));
          await tryTo(`Failed to ${verb} ${kind.group} ${o.name}`, () => run(o, opts));
          ctx.extra(`${kind.title} ${o.name} ${done}`);
          return true;
        },
      };
    },

    /** `*-dumpxml`. */
    dumpxml(name: string): CommandDef {
      return {
        name,
        group: kind.group,
        summary: `${kind.group} information in XML`,
        description: `Output the ${kind.group} information as an XML dump to stdout.`,
        options: [
          kind.opt,
          { name: 'inactive', kind: 'bool', help: 'show inactive defined XML' },
          ...XPATH_OPTIONS,
        ],
        async run(ctx, opts) {
          const o = await kind.lookup(ctx, opts.need(key));
          const xml = await tryTo(`Failed to get the XML of ${kind.group} ${o.name}`, () =>
            o.getXML(opts.flag('inactive') ? { inactive: true } : {}),
          );
          await printXml(ctx, xml, opts);
          return true;
        },
      };
    },

    /** `*-autostart [--disable]`. */
    autostart(name: string): CommandDef {
      return {
        name,
        group: kind.group,
        summary: `autostart a ${kind.group}`,
        description: `Configure a ${kind.group} to be automatically started at boot.`,
        options: [kind.opt, { name: 'disable', kind: 'bool', help: 'disable autostarting' }],
        async run(ctx, opts) {
          const o = await kind.lookup(ctx, opts.need(key));
          const on = !opts.flag('disable');
          await tryTo(`failed to ${on ? 'mark' : 'unmark'} ${kind.group} ${o.name} as autostarted`, () =>
            o.setAutostart(on),
          );
          ctx.extra(`${kind.title} ${o.name} ${on ? 'marked' : 'unmarked'} as autostarted`);
          return true;
        },
      };
    },
  };
}

/**
 * Commands that look at domains without changing them: `list`, `dominfo`,
 * `domstate`, `domid`, `domname`, `domuuid`, `dumpxml`.
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { Domain } from '../../domain.js';
import type { DomainStateName, ListDomainsFilter } from '../../driver.js';
import { isVirError } from '../../errors.js';
import { attempt, CliError, type CommandDef, DOMAIN_OPT } from '../command.js';
import { cpuSeconds, field, stateWord, table } from '../format.js';
import { printXml, XPATH_OPTIONS } from '../xpath-view.js';

const LIST_FLAGS = [
  ['inactive', 'list inactive domains'],
  ['all', 'list inactive & active domains'],
  ['transient', 'list transient domains'],
  ['persistent', 'list persistent domains'],
  ['autostart', 'list domains with autostart enabled'],
  ['no-autostart', 'list domains with autostart disabled'],
  ['state-running', 'list domains in running state'],
  ['state-paused', 'list domains in paused state'],
  ['state-shutoff', 'list domains in shutoff state'],
  ['state-other', 'list domains in other states'],
  ['table', 'list table (default)'],
  ['uuid', "list uuid's only"],
  ['name', 'list domain names only'],
  ['id', 'list domain IDs only'],
] as const;

const OTHER_STATES: readonly DomainStateName[] = ['nostate', 'blocked', 'shutdown', 'crashed', 'pmsuspended'];

type Dom = Domain<Connection>;

/** Active domains by id, then inactive ones by name: virsh's order. */
function byVirshOrder(a: Dom, b: Dom): number {
  if (a.id >= 0 && b.id >= 0) return a.id - b.id;
  if (a.id >= 0 || b.id >= 0) return a.id >= 0 ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

const list: CommandDef = {
  name: 'list',
  group: 'domain',
  summary: 'list domains',
  description: 'Returns list of domains.',
  options: LIST_FLAGS.map(([name, help]) => ({ name, kind: 'bool', help })),
  async run(ctx, opts) {
    const only = (['uuid', 'name', 'id'] as const).filter((f) => opts.flag(f));
    for (const f of only) {
      if (opts.flag('table')) throw new CliError(`Options --table and --${f} are mutually exclusive`);
    }
    if (opts.flag('id') && only.length > 1) {
      throw new CliError(`Options --id and --${only[1]} are mutually exclusive`);
    }
    const filter: ListDomainsFilter = {};
    const states: DomainStateName[] = [];
    if (opts.flag('state-running')) states.push('running');
    if (opts.flag('state-paused')) states.push('paused');
    if (opts.flag('state-shutoff')) states.push('shutoff');
    if (opts.flag('state-other')) states.push(...OTHER_STATES);
    if (states.length > 0) filter.state = states;
    else if (opts.flag('inactive') && !opts.flag('all')) filter.active = false;
    else if (!opts.flag('all')) filter.active = true;
    if (opts.flag('persistent') !== opts.flag('transient')) filter.persistent = opts.flag('persistent');
    if (opts.flag('autostart') !== opts.flag('no-autostart')) filter.autostart = opts.flag('autostart');
    const doms = (
      await attempt('failed to list domains', async () => (await ctx.conn()).listDomains(filter))
    ).sort(byVirshOrder);
    if (only.length > 0) {
      for (const d of doms) {
        if (opts.flag('id')) {
          if (d.id >= 0) ctx.out(String(d.id));
        } else
          ctx.out(
            [opts.flag('uuid') ? d.uuid : '', opts.flag('name') ? d.name : ''].filter(Boolean).join(' '),
          );
      }
      return true;
    }
    const rows: string[][] = [];
    for (const d of doms) {
      const { state } = await d.getState();
      rows.push([d.id >= 0 ? String(d.id) : '-', d.name, stateWord(state)]);
    }
    for (const l of table(['Id', 'Name', 'State'], rows, { header: !ctx.quiet })) ctx.out(l);
    return true;
  },
};

/** A yes/no fact that a driver may not know: virsh prints `unknown` then. */
async function maybe<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (isVirError(e)) return undefined;
    throw e;
  }
}

const dominfo: CommandDef = {
  name: 'dominfo',
  group: 'monitor',
  summary: 'domain information',
  description: 'Returns basic information about the domain.',
  options: [DOMAIN_OPT],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    ctx.out(field('Id:', d.id >= 0 ? String(d.id) : '-'));
    ctx.out(field('Name:', d.name));
    ctx.out(field('UUID:', d.uuid));
    const info = await attempt('failed to get domain information', () => d.getInfo());
    ctx.out(field('State:', stateWord(info.state)));
    ctx.out(field('CPU(s):', info.nrVirtCpu));
    if (info.cpuTime !== 0n) ctx.out(field('CPU time:', cpuSeconds(info.cpuTime)));
    ctx.out(field('Max memory:', `${info.maxMem} KiB`));
    ctx.out(field('Used memory:', `${info.memory} KiB`));
    const persistent = await maybe(() => d.isPersistent());
    ctx.out(field('Persistent:', persistent === undefined ? 'unknown' : persistent ? 'yes' : 'no'));
    const autostart = await maybe(() => d.getAutostart());
    if (autostart !== undefined) ctx.out(field('Autostart:', autostart ? 'enable' : 'disable'));
    const saved = await maybe(() => d.hasManagedSave());
    ctx.out(field('Managed save:', saved === undefined ? 'unknown' : saved ? 'yes' : 'no'));
    return true;
  },
};

const domstate: CommandDef = {
  name: 'domstate',
  group: 'monitor',
  summary: 'domain state',
  description: 'Returns state about a domain.',
  options: [DOMAIN_OPT, { name: 'reason', kind: 'bool', help: 'also print reason for the state' }],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const { state, reason } = await attempt('failed to get domain state', () => d.getState());
    ctx.out(opts.flag('reason') ? `${stateWord(state)} (${reason})` : stateWord(state));
    return true;
  },
};

const domid: CommandDef = {
  name: 'domid',
  group: 'domain',
  summary: 'convert a domain name or UUID to domain id',
  description: 'Converts a domain name or UUID to a domain id.',
  options: [{ ...DOMAIN_OPT, help: 'domain name or uuid' }],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    ctx.out(d.id >= 0 ? String(d.id) : '-');
    return true;
  },
};

const domname: CommandDef = {
  name: 'domname',
  group: 'domain',
  summary: 'convert a domain id or UUID to domain name',
  description: 'Converts a domain id or UUID to a domain name.',
  options: [{ ...DOMAIN_OPT, help: 'domain id or uuid' }],
  async run(ctx, opts) {
    ctx.out((await ctx.domain(opts.need('domain'))).name);
    return true;
  },
};

const domuuid: CommandDef = {
  name: 'domuuid',
  group: 'domain',
  summary: 'convert a domain name or id to domain UUID',
  description: 'Converts a domain name or id to a domain UUID.',
  options: [{ ...DOMAIN_OPT, help: 'domain id or name' }],
  async run(ctx, opts) {
    ctx.out((await ctx.domain(opts.need('domain'))).uuid);
    return true;
  },
};

const dumpxml: CommandDef = {
  name: 'dumpxml',
  group: 'domain',
  summary: 'domain information in XML',
  description: 'Output the domain information as an XML dump to stdout.',
  options: [
    DOMAIN_OPT,
    { name: 'inactive', kind: 'bool', help: 'show inactive defined XML' },
    { name: 'security-info', kind: 'bool', help: 'include security sensitive information in XML dump' },
    { name: 'update-cpu', kind: 'bool', help: 'update guest CPU according to host CPU' },
    { name: 'migratable', kind: 'bool', help: 'provide XML suitable for migrations' },
    ...XPATH_OPTIONS,
  ],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    // virsh prints the driver's error as it is, with no context of its own
    const xml = await d.getXML({
      inactive: opts.flag('inactive'),
      secure: opts.flag('security-info'),
      updateCpu: opts.flag('update-cpu'),
      migratable: opts.flag('migratable'),
    });
    await printXml(ctx, xml, opts);
    return true;
  },
};

export const domainInfoCommands: readonly CommandDef[] = [
  list,
  dominfo,
  domstate,
  domid,
  domname,
  domuuid,
  dumpxml,
];

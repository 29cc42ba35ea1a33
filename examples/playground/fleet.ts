/**
 * The playground's Fleet tab: several hosts (capabilities, domain
 * capabilities or host `<cpu>` documents, loaded, pasted or picked from the
 * shipped hosts) and guests (domain or CPU XML) planned with `planFleet`:
 * the guest × host matrix of start and incoming-migration verdicts with the
 * features at fault, each host group's baseline and best model, and what a
 * guest would gain by dropping a feature. Everything runs in the page.
 */

import type { CpuDef } from '../../src/conf/index.js';
import {
  type FleetCell,
  type FleetHostInput,
  type FleetPlan,
  type FleetVerdict,
  planFleet,
} from '../../src/cpu/index.js';
import { parseXml } from '../../src/xml/index.js';
import type { ShippedHost } from './hosts.js';

/** The page helpers fleet.ts shares with playground.ts. */
export interface FleetPage {
  /** The element of an id; throws when the page has none. */
  $: <T extends HTMLElement>(id: string) => T;
  /** A new element with its text and class. */
  el: <K extends keyof HTMLElementTagNameMap>(
    tag: K,
    text?: string,
    cls?: string,
  ) => HTMLElementTagNameMap[K];
  /** An error in words: a VirError's code and message. */
  message: (err: unknown) => string;
  /** The host CPUs the page ships (hosts.ts). */
  shipped: readonly ShippedHost[];
}

type HostDoc = 'capabilities' | 'domainCapabilities' | 'cpu';
const DOC_OF_ROOT: Record<string, HostDoc> = {
  capabilities: 'capabilities',
  domainCapabilities: 'domainCapabilities',
  cpu: 'cpu',
};
const DOC_LABEL: Record<HostDoc, string> = {
  capabilities: 'capabilities',
  domainCapabilities: 'domain capabilities',
  cpu: 'host CPU',
};

interface Guest {
  name: string;
  xml: string;
}

/** Wires the Fleet tab into the page. */
export function setupFleet(page: FleetPage): void {
  const { $, el, message } = page;
  const hosts: FleetHostInput[] = [];
  const guests: Guest[] = [];
  const out = $('fleet-result');

  const stale = () => {
    out.replaceChildren();
    delete out.dataset.state;
  };
  const say = (target: HTMLElement, ok: boolean, text: string) => {
    target.replaceChildren(el('p', text, ok ? 'ok' : 'bad'));
    target.dataset.state = ok ? 'ok' : 'error';
  };

  /** Adds a host document, or merges it into the host of that name that lacks its kind. */
  function addHostDoc(name: string, doc: string | CpuDef): void {
    const kind: HostDoc | undefined = typeof doc === 'string' ? DOC_OF_ROOT[parseXml(doc).name] : 'cpu';
    if (!kind) {
      throw new Error(
        `a <${typeof doc === 'string' ? parseXml(doc).name : '?'}> document is not a host: load capabilities, domain capabilities or a host <cpu>`,
      );
    }
    if (!name) throw new Error('give the host a name');
    const existing = hosts.find((h) => h.name === name);
    const candidate: FleetHostInput = existing ? { ...existing } : { name };
    if (existing?.[kind] !== undefined) throw new Error(`host ${name} already has its ${DOC_LABEL[kind]}`);
    if (kind === 'cpu') candidate.cpu = doc;
    else if (typeof doc === 'string') candidate[kind] = doc;
    // the documents are checked now, so the error is shown beside what was added
    planFleet({ hosts: [candidate], guests: [], options: { whatIf: false } });
    if (existing) Object.assign(existing, candidate);
    else hosts.push(candidate);
  }

  function addGuest(name: string, xml: string): void {
    const input = name ? { name, guest: xml } : xml;
    const plan = planFleet({ hosts: [], guests: [input], options: { whatIf: false } });
    const planned = plan.guests[0]?.name ?? name;
    const unique = guests.some((g) => g.name === planned) ? `${planned}-${guests.length + 1}` : planned;
    guests.push({ name: unique, xml });
  }

  function renderLists(): void {
    const hostList = $('fleet-hosts');
    hostList.replaceChildren();
    for (const [i, h] of hosts.entries()) {
      const docs = (Object.keys(DOC_LABEL) as HostDoc[])
        .filter((k) => h[k] !== undefined)
        .map((k) => DOC_LABEL[k]);
      const li = el('li', `${h.name}: ${docs.join(' + ')} `);
      li.dataset.host = h.name;
      const rm = el('button', 'remove');
      rm.type = 'button';
      rm.addEventListener('click', () => {
        hosts.splice(i, 1);
        renderLists();
      });
      li.append(rm);
      hostList.append(li);
    }
    const guestList = $('fleet-guests');
    guestList.replaceChildren();
    for (const [i, g] of guests.entries()) {
      const li = el('li', `${g.name} `);
      li.dataset.guest = g.name;
      const rm = el('button', 'remove');
      rm.type = 'button';
      rm.addEventListener('click', () => {
        guests.splice(i, 1);
        renderLists();
      });
      li.append(rm);
      guestList.append(li);
    }
    stale();
  }

  /** Runs `fn`, then shows its error (VirError code and message) in `target`, or clears it. */
  const attempt = (target: HTMLElement, fn: () => void) => {
    try {
      fn();
      target.replaceChildren();
      delete target.dataset.state;
    } catch (err) {
      say(target, false, message(err));
    }
    renderLists();
  };

  // the shipped hosts, by their id
  const pick = $<HTMLSelectElement>('fleet-shipped');
  for (const h of page.shipped) {
    const opt = el('option', h.label);
    opt.value = h.id;
    pick.append(opt);
  }
  $('fleet-add-shipped').addEventListener('click', () =>
    attempt($('fleet-host-error'), () => {
      const h = page.shipped.find((s) => s.id === pick.value);
      if (h) addHostDoc(h.id, h.cpu);
    }),
  );
  $<HTMLInputElement>('fleet-files').addEventListener('change', async (ev) => {
    const input = ev.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    const texts = await Promise.all(
      files.map(async (f) => [f.name.replace(/\.xml$/i, ''), await f.text()] as const),
    );
    input.value = '';
    attempt($('fleet-host-error'), () => {
      for (const [name, text] of texts) addHostDoc(name, text);
    });
    $('fleet-hosts').dataset.loaded = String(hosts.length);
  });
  $('fleet-add-host').addEventListener('click', () =>
    attempt($('fleet-host-error'), () =>
      addHostDoc(
        $<HTMLInputElement>('fleet-host-name').value.trim(),
        $<HTMLTextAreaElement>('fleet-host-xml').value,
      ),
    ),
  );
  $('fleet-add-guest').addEventListener('click', () =>
    attempt($('fleet-guest-error'), () =>
      addGuest(
        $<HTMLInputElement>('fleet-guest-name').value.trim(),
        $<HTMLTextAreaElement>('fleet-guest-xml').value,
      ),
    ),
  );
  $('fleet-plan').addEventListener('click', () => {
    try {
      if (hosts.length === 0 || guests.length === 0) throw new Error('add at least one host and one guest');
      const plan = planFleet({
        hosts,
        guests: guests.map((g) => ({ name: g.name, guest: g.xml })),
        options: { whatIf: $<HTMLInputElement>('fleet-whatif').checked },
      });
      out.replaceChildren(...render(plan, el));
      out.dataset.state = 'ok';
    } catch (err) {
      say(out, false, message(err));
    }
  });
  renderLists();
}

/** Up to this many blockers are worded inline; more are listed by name, the reasons folded. */
const SHORT = 3;

/** A blocker list as one line per blocker, for the cell's tooltip and the list below. */
const lines = (v: FleetVerdict) =>
  v.blockers.map((b) => (b.feature ? `${b.feature}: ${b.reason}` : b.reason));

function verdictBadge(
  el: FleetPage['el'],
  what: 'start' | 'migrate',
  v: FleetVerdict,
  isSource: boolean,
): HTMLElement {
  const text = isSource && what === 'migrate' ? 'migrate: runs here' : `${what}: ${v.ok ? 'yes' : 'no'}`;
  const badge = el('span', v.ok ? text : `${text} (${v.blockers.length})`, v.ok ? 'yes' : 'no');
  badge.dataset.verdict = what;
  badge.dataset.ok = v.ok ? 'yes' : 'no';
  if (v.blockers.length > 0) badge.title = lines(v).join('\n');
  return badge;
}

function cellOf(el: FleetPage['el'], guest: string, source: string | undefined, c: FleetCell): HTMLElement {
  const td = el('td', undefined, 'cell');
  td.dataset.guest = guest;
  td.dataset.host = c.host;
  td.dataset.start = c.canStart.ok ? 'yes' : 'no';
  td.dataset.migrate = c.canReceiveMigration.ok ? 'yes' : 'no';
  td.append(
    verdictBadge(el, 'start', c.canStart, false),
    verdictBadge(el, 'migrate', c.canReceiveMigration, c.host === source),
  );
  return td;
}

function render(plan: FleetPlan, el: FleetPage['el']): HTMLElement[] {
  const parts: HTMLElement[] = [];
  // the hosts as the planner read them
  const hostTable = el('table', undefined, 'fleet-hosts');
  const hh = el('tr');
  for (const h of ['host', 'arch', 'vendor', 'CPU model', 'host-model', 'problems']) hh.append(el('th', h));
  hostTable.append(hh);
  for (const h of plan.hosts) {
    const tr = el('tr');
    tr.append(
      el('td', h.name),
      el('td', h.arch),
      el('td', h.vendor ?? '?'),
      el('td', h.model ?? '?'),
      el('td', h.hostModel ?? '-'),
      el('td', h.problems.join('; ') || '-', h.problems.length ? 'bad' : undefined),
    );
    hostTable.append(tr);
  }
  parts.push(el('h3', 'Hosts'), hostTable);

  // the matrix: guests × hosts
  const matrix = el('table', undefined, 'matrix');
  matrix.id = 'fleet-matrix';
  const head = el('tr');
  head.append(el('th', 'guest (runs on)'));
  for (const h of plan.hosts) head.append(el('th', h.name));
  matrix.append(head);
  for (const g of plan.guests) {
    const tr = el('tr');
    const desc = g.model ? `${g.mode} ${g.model}` : g.mode;
    tr.append(el('th', `${g.name} (${desc}; runs on ${g.source ?? 'no host'})`));
    for (const c of g.cells) tr.append(cellOf(el, g.name, g.source, c));
    matrix.append(tr);
  }
  parts.push(el('h3', 'Start and incoming migration'), matrix);

  // the blockers in words, below the matrix
  const blockers = el('ul', undefined, 'issues');
  blockers.id = 'fleet-blockers';
  for (const g of plan.guests) {
    for (const c of g.cells) {
      for (const [what, v] of [
        ['start', c.canStart],
        ['migrate', c.canReceiveMigration],
      ] as const) {
        if (v.blockers.length === 0) continue;
        const li = el('li');
        li.dataset.guest = g.name;
        li.dataset.host = c.host;
        li.dataset.verdict = what;
        const verb = what === 'start' ? 'start on' : `migrate from ${c.canReceiveMigration.from ?? '?'} to`;
        li.append(
          el('strong', `${g.name} cannot ${verb} ${c.host}${v.ok ? ' (not checked: check=none)' : ''}: `),
        );
        const features = el('span');
        features.dataset.features = v.blockers.map((b) => b.feature ?? `(${b.kind})`).join(' ');
        if (v.blockers.length <= SHORT) {
          features.textContent = lines(v).join('; ');
          li.append(features);
        } else {
          // a long list: the feature names, and the reasons one per line when opened
          features.textContent = `${v.blockers.length} features: ${v.blockers.map((b) => b.feature ?? b.kind).join(', ')}`;
          const why = el('details');
          const list = el('ul');
          for (const line of lines(v)) list.append(el('li', line));
          why.append(el('summary', 'why'), list);
          li.append(features, why);
        }
        blockers.append(li);
      }
    }
  }
  if (blockers.children.length > 0) parts.push(blockers);

  // host groups
  const groups = el('div');
  groups.id = 'fleet-groups';
  for (const grp of plan.groups) {
    const box = el('div', undefined, 'group');
    box.dataset.group = grp.name;
    box.append(
      el(
        'p',
        `Group ${grp.name} (${grp.hosts.join(', ')}): best model ${grp.bestModel ?? 'none'}` +
          (grp.error ? `; no baseline: ${grp.error.code}: ${grp.error.message}` : ''),
        grp.error ? 'bad' : undefined,
      ),
    );
    if (grp.baseline) {
      const details = el('details');
      const n = grp.baseline.features?.length ?? 0;
      details.append(
        el('summary', `migratable baseline: model ${grp.baseline.model?.name ?? '?'} and ${n} feature(s)`),
        el('pre', grp.baseline.toXML()),
      );
      box.append(details);
    }
    groups.append(box);
  }
  parts.push(el('h3', 'Host groups: migratable baseline and best model'), groups);

  // what if
  const whatIf = el('ul', undefined, 'issues');
  whatIf.id = 'fleet-whatif-answers';
  for (const g of plan.guests) {
    for (const w of g.whatIf) {
      const li = el(
        'li',
        `${g.name} without ${w.feature}: could start on ${w.gainsStart.join(', ') || 'no more hosts'}; ` +
          `could be received by ${w.gainsMigration.join(', ') || 'no more hosts'}`,
      );
      li.dataset.guest = g.name;
      li.dataset.feature = w.feature;
      whatIf.append(li);
    }
  }
  if (whatIf.children.length === 0)
    whatIf.append(el('li', 'no feature blocks a guest that dropping would help'));
  parts.push(el('h3', 'What if a guest dropped a feature'), whatIf);
  return parts;
}

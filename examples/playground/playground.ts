/**
 * The playground page: what a management UI author tries first. A document
 * (pasted, loaded from a file, or a sample) is validated against virtkit's
 * schemas with the line of each error; its guest CPU is resolved against a
 * chosen host, feature by feature with the reason, into QEMU's `-cpu`; and
 * it is compared with several hosts, which are baselined into the CPU a
 * guest could migrate between them with. Everything runs in the page.
 */

import sampleCaps from '../../fixtures/capabilities/qemu-session-x86_64.xml';
import sampleDomain from '../../fixtures/domain/web-server.xml';
import { CpuDef } from '../../src/conf/index.js';
import { baselineCpu, compareCpu, qemuCpuArg, resolveGuestCpu } from '../../src/cpu/index.js';
import { firstChild, parseXml, type SchemaKind, validate, type XmlElement } from '../../src/xml/index.js';
import { setupFleet } from './fleet.js';
import { hostCpuOfCapabilities, type ShippedHost, shippedHosts } from './hosts.js';

const SAMPLE_CPU = `<cpu mode='custom' match='exact' check='partial'>
  <model fallback='forbid'>Haswell-noTSX</model>
  <vendor>Intel</vendor>
  <feature policy='require' name='avx2'/>
  <feature policy='disable' name='aes'/>
  <feature policy='optional' name='pdpe1gb'/>
</cpu>
`;
const SAMPLES: Record<string, string> = { domain: sampleDomain, capabilities: sampleCaps, cpu: SAMPLE_CPU };

/** Schema kinds by root element name. */
const KIND_OF_ROOT: Record<string, SchemaKind> = {
  domain: 'domain',
  capabilities: 'capability',
  domainCapabilities: 'domaincaps',
  cpu: 'cpu',
};

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

const xmlBox = $<HTMLTextAreaElement>('xml');
const kindSelect = $<HTMLSelectElement>('kind');
const hostSelect = $<HTMLSelectElement>('host');
const hosts: ShippedHost[] = shippedHosts();
const PASTED_HOST = 'pasted';
/**
 * The host CPU of the capabilities document loaded last: kept when the
 * document is replaced, so a guest pasted next can be tried on that host.
 */
let pastedHost: CpuDef | undefined;

/** Keeps the host CPU of the document when it is capabilities. */
function rememberHost(): void {
  let cpu: CpuDef | undefined;
  try {
    const root = documentRoot();
    cpu = root.name === 'capabilities' ? hostCpuOfCapabilities(root) : undefined;
  } catch {
    cpu = undefined; // not (yet) well-formed
  }
  if (!cpu) return;
  pastedHost = cpu;
  const option = hostSelect.querySelector<HTMLOptionElement>(`option[value="${PASTED_HOST}"]`);
  if (option) {
    option.textContent = `the loaded capabilities' host (${cpu.vendor ?? '?'} ${cpu.model?.name ?? '?'})`;
    option.disabled = false;
  }
  const box = document.querySelector<HTMLInputElement>(`#hosts input[value="${PASTED_HOST}"]`);
  if (box) box.disabled = false;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  cls?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function say(target: HTMLElement, ok: boolean, text: string): void {
  target.replaceChildren(el('p', text, ok ? 'ok' : 'bad'));
  target.dataset.state = ok ? 'ok' : 'error';
}

function message(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** The document's root element, or the error that says why it has none. */
function documentRoot(): XmlElement {
  return parseXml(xmlBox.value);
}

function kindOf(root: XmlElement | undefined): SchemaKind | undefined {
  if (kindSelect.value !== 'auto') return kindSelect.value as SchemaKind;
  return root ? KIND_OF_ROOT[root.name] : undefined;
}

// --- 1. validation -----------------------------------------------------------

async function runValidation(): Promise<void> {
  const out = $('validation');
  let root: XmlElement | undefined;
  try {
    root = documentRoot();
  } catch {
    root = undefined; // validate() reports the malformed text with its line
  }
  const kind = kindOf(root);
  $('detected').textContent = kind ? `schema: ${kind}` : '';
  if (!kind) {
    say(out, false, `no schema for a <${root?.name ?? '?'}> document: choose a kind`);
    return;
  }
  out.textContent = 'validating…';
  try {
    const result = await validate(xmlBox.value, kind);
    if (result.valid) {
      say(out, true, `valid ${kind} XML`);
      return;
    }
    const list = el('ul', undefined, 'issues');
    for (const issue of result.errors) {
      const li = el('li', `line ${issue.line}: ${issue.message}`);
      li.dataset.line = String(issue.line);
      list.append(li);
    }
    out.replaceChildren(el('p', `not valid ${kind} XML (${result.errors.length} error(s))`, 'bad'), list);
    out.dataset.state = 'invalid';
  } catch (err) {
    say(out, false, message(err));
  }
}

// --- 2. the guest CPU on a host ----------------------------------------------

/** The guest CPU the document holds. */
function guestCpu(): CpuDef {
  const root = documentRoot();
  if (root.name === 'cpu') return CpuDef.fromElement(root, '/cpu');
  if (root.name === 'domain') {
    const cpu = firstChild(root, 'cpu');
    if (!cpu) return CpuDef.fromXML("<cpu mode='custom' match='exact'><model>qemu64</model></cpu>");
    return CpuDef.fromElement(cpu, '/domain/cpu');
  }
  throw new Error(`a <${root.name}> document has no guest CPU: paste a domain or a <cpu>`);
}

/** The host chosen in a select: a shipped one, or the host of pasted capabilities. */
function hostById(id: string): { label: string; cpu: CpuDef } {
  if (id === PASTED_HOST) {
    if (!pastedHost)
      throw new Error('no capabilities loaded yet: load or paste a capabilities document first');
    return { label: "the loaded capabilities' host", cpu: pastedHost };
  }
  const host = hosts.find((h) => h.id === id);
  if (!host) throw new Error(`unknown host ${id}`);
  return host;
}

function explain(): void {
  const out = $('explanation');
  const arg = $('cpu-arg');
  arg.textContent = '-';
  try {
    const guest = guestCpu();
    const host = hostById(hostSelect.value);
    const resolved = resolveGuestCpu(guest, host.cpu, { allowViolations: true });
    const table = el('table');
    const head = el('tr');
    for (const h of ['feature', 'guest', 'policy', 'decided by', 'on host', 'why']) head.append(el('th', h));
    table.append(head);
    for (const f of resolved.features) {
      const tr = el('tr', undefined, f.enabled ? 'on' : 'off');
      tr.dataset.feature = f.name;
      tr.append(
        el('td', f.name),
        el('td', f.enabled ? 'on' : 'off', 'state'),
        el('td', f.requested && f.requested !== f.policy ? `${f.policy} (written ${f.requested})` : f.policy),
        el('td', f.source),
        el('td', f.onHost ? 'yes' : 'no'),
        el('td', f.reason),
      );
      table.append(tr);
    }
    const summary = el(
      'p',
      `${resolved.mode} guest on ${host.label}: model ${resolved.model ?? '(the host CPU)'}, ` +
        `${resolved.features.filter((f) => f.enabled).length} features on, ${resolved.features.filter((f) => !f.enabled).length} off`,
      resolved.violations.length === 0 ? 'ok' : 'bad',
    );
    const violations = el('ul', undefined, 'issues');
    for (const v of resolved.violations)
      violations.append(el('li', `${v.feature} (${v.policy}): ${v.problem}`));
    out.replaceChildren(summary, violations, table);
    out.dataset.state = resolved.violations.length === 0 ? 'ok' : 'violations';
    arg.textContent = `-cpu ${qemuCpuArg(resolved)}`;
  } catch (err) {
    say(out, false, message(err));
  }
}

// --- 3. several hosts: compare and baseline ------------------------------------

function compareAndBaseline(): void {
  const out = $('comparison');
  const pre = $('baseline');
  pre.textContent = '';
  const chosen = [...document.querySelectorAll<HTMLInputElement>('#hosts input:checked')].map((i) =>
    hostById(i.value),
  );
  if (chosen.length === 0) {
    say(out, false, 'choose at least one host');
    return;
  }
  let guest: CpuDef | undefined;
  try {
    guest = guestCpu();
  } catch {
    guest = undefined; // baseline only
  }
  const table = el('table');
  const head = el('tr');
  for (const h of ['host', 'guest CPU on it', 'why']) head.append(el('th', h));
  table.append(head);
  for (const host of chosen) {
    const tr = el('tr');
    tr.dataset.host = host.label;
    if (!guest) tr.append(el('td', host.label), el('td', '-'), el('td', 'no guest CPU in the document'));
    else {
      try {
        const r = compareCpu(host.cpu, guest);
        tr.append(el('td', host.label), el('td', r.result), el('td', r.reason ?? ''));
      } catch (err) {
        tr.append(el('td', host.label), el('td', 'error'), el('td', message(err)));
      }
    }
    table.append(tr);
  }
  out.replaceChildren(table);
  out.dataset.state = 'ok';
  try {
    pre.textContent = baselineCpu(chosen.map((h) => h.cpu)).toXML();
    pre.dataset.state = 'ok';
  } catch (err) {
    pre.textContent = `no baseline: ${message(err)}`;
    pre.dataset.state = 'error';
  }
}

// --- wiring --------------------------------------------------------------------

function fillHosts(): void {
  const pasted = el('option', 'the host of capabilities you load (none yet)');
  pasted.value = PASTED_HOST;
  pasted.disabled = true;
  hostSelect.append(pasted);
  const pastedLabel = el('label');
  const pastedBox = el('input');
  pastedBox.type = 'checkbox';
  pastedBox.value = PASTED_HOST;
  pastedBox.disabled = true;
  pastedLabel.append(pastedBox, " the loaded capabilities' host");
  $('hosts').append(pastedLabel);
  for (const h of hosts) {
    const opt = el('option', h.label);
    opt.value = h.id;
    hostSelect.append(opt);
    const label = el('label');
    const box = el('input');
    box.type = 'checkbox';
    box.value = h.id;
    label.append(box, ` ${h.label}`);
    $('hosts').append(label);
  }
  hostSelect.value = hosts[1]?.id ?? PASTED_HOST;
}

fillHosts();
$('validate').addEventListener('click', () => void runValidation());
$('explain').addEventListener('click', explain);
$('compare').addEventListener('click', compareAndBaseline);
for (const b of document.querySelectorAll<HTMLButtonElement>('button[data-sample]')) {
  b.addEventListener('click', () => {
    xmlBox.value = SAMPLES[b.dataset.sample ?? ''] ?? '';
    kindSelect.value = 'auto';
    clear();
  });
}
$<HTMLInputElement>('file').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (file) xmlBox.value = await file.text();
  clear();
});
// a changed document makes the earlier answers stale
const clear = () => {
  rememberHost();
  $('detected').textContent = '';
  for (const id of ['validation', 'explanation', 'comparison']) {
    $(id).replaceChildren();
    delete $(id).dataset.state;
  }
  $('baseline').textContent = '';
  $('cpu-arg').textContent = '-';
};
xmlBox.addEventListener('input', clear);
kindSelect.addEventListener('change', clear);
xmlBox.value = SAMPLE_CPU;

// --- tabs ----------------------------------------------------------------------

const tabs = [...document.querySelectorAll<HTMLButtonElement>('button[role="tab"]')];
for (const tab of tabs) {
  tab.addEventListener('click', () => {
    for (const t of tabs) {
      t.setAttribute('aria-selected', String(t === tab));
      $(t.dataset.tab ?? '').hidden = t !== tab;
    }
  });
}
setupFleet({ $, el, message, shipped: hosts });
document.documentElement.dataset.ready = 'yes';

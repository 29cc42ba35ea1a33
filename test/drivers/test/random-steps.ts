/**
 * Random differential scripts: a seeded generator of step sequences over a
 * few domains, so the comparison with libvirt also covers orders nobody
 * thought to write down. Renames are left to the fixed script: with
 * snapshots they let libvirt end up with two domains of one name (a revert
 * brings back the old name), which we refuse to imitate.
 */
import type { Step } from './differential-steps.js';

const NAMES = ['test', 'a', 'b', 't'] as const;
const UUIDS: Record<string, string> = {
  a: '7c1d2e3f-0000-4000-8000-00000000000a',
  b: '7c1d2e3f-0000-4000-8000-00000000000b',
  t: '7c1d2e3f-0000-4000-8000-00000000000c',
  test: '6695eb01-f6a4-8304-79aa-97f2502e193f',
};

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomSteps(seed: number, length: number): Step[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const xml = (name: string) =>
    `<domain type='test'><name>${name}</name><uuid>${UUIDS[name]}</uuid><memory unit='MiB'>${pick([32, 64, 128])}</memory><vcpu current='1'>${pick([2, 4])}</vcpu><os><type>hvm</type></os></domain>`;
  const steps: Step[] = [];
  for (let i = 0; i < length; i++) {
    const dom = pick(NAMES);
    const kind = pick([
      'define',
      'create',
      'start',
      'suspend',
      'resume',
      'shutdown',
      'reboot',
      'reset',
      'destroy',
      'undefine',
      'managedSave',
      'setMemory',
      'setVcpus',
      'setAutostart',
      'snapCreate',
      'snapRevert',
      'snapDelete',
      'xml',
      'hasManagedSave',
    ] as const);
    switch (kind) {
      case 'define':
      case 'create':
        steps.push({ op: kind, xml: xml(dom) });
        break;
      case 'setMemory':
        steps.push({ op: 'setMemory', dom, kib: pick([16384, 65536, 9999999]), config: r() < 0.5 });
        break;
      case 'setVcpus':
        steps.push({ op: 'setVcpus', dom, count: pick([1, 2, 3]), config: r() < 0.5 });
        break;
      case 'setAutostart':
        steps.push({ op: 'setAutostart', dom, value: r() < 0.5 });
        break;
      case 'snapCreate':
        steps.push({
          op: 'snapCreate',
          dom,
          xml: `<domainsnapshot><name>${pick(['s1', 's2'])}</name></domainsnapshot>`,
        });
        break;
      case 'snapRevert':
        steps.push({ op: 'snapRevert', dom, name: pick(['s1', 's2']) });
        break;
      case 'snapDelete':
        steps.push({ op: 'snapDelete', dom, name: pick(['s1', 's2']), children: r() < 0.3 });
        break;
      case 'xml':
        steps.push({ op: 'xml', dom, inactive: r() < 0.5 });
        break;
      case 'undefine':
        steps.push({ op: 'undefine', dom, snapshots: r() < 0.5 });
        break;
      default:
        steps.push({ op: kind, dom });
    }
  }
  return steps;
}

/**
 * Runs one scenario both ways: a list of labelled steps against virtkit and
 * the same steps, written in Python, against libvirt through
 * python3-libvirt; each step gives `{ ok, value }` or `{ ok: false, code }`
 * (libvirt's error name without `VIR_ERR_`), so the two can be compared
 * step by step.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import { VirError } from '../../src/errors.js';

export const PYTHON = '/usr/bin/python3';

export const HAVE_PYTHON_LIBVIRT =
  existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import libvirt'], { stdio: 'ignore' }).status === 0;

/**
 * Step by step equality; `known` names steps where both fail and virtkit
 * knowingly gives another code (each with its reason at the caller).
 */
export function compare(
  ours: Outcome[],
  theirs: Outcome[],
  known: Readonly<Record<string, { ours: string; theirs: string }>> = {},
): void {
  expect(ours.map((o) => o.step)).toEqual(theirs.map((o) => o.step));
  for (const [i, o] of ours.entries()) {
    const t = theirs[i]!;
    const k = known[o.step];
    if (k && !o.ok && !t.ok) {
      expect([o.code, t.code], o.step).toEqual([k.ours, k.theirs]);
      continue;
    }
    expect(o, o.step).toEqual(t);
  }
}

export type Outcome = { step: string; ok: true; value: unknown } | { step: string; ok: false; code: string };

/** Plain JSON values: bigints become numbers (python's ints), arrays and objects recursively. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v ?? null;
}

export async function runOurs(
  steps: ReadonlyArray<readonly [string, () => Promise<unknown>]>,
): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const [step, run] of steps) {
    try {
      out.push({ step, ok: true, value: plain(await run()) });
    } catch (err) {
      if (!(err instanceof VirError)) throw err;
      out.push({ step, ok: false, code: err.code });
    }
  }
  return out;
}

/**
 * `body` is Python defining `steps`, a list of `(label, callable)`, with
 * `conn` open on `uri`; `None` results become null.
 */
export function runLibvirt(uri: string, body: string, args: readonly string[] = []): Outcome[] {
  const script = `import json, sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
ERRORS = {getattr(libvirt, k): k[len('VIR_ERR_'):] for k in dir(libvirt)
          if k.startswith('VIR_ERR_') and isinstance(getattr(libvirt, k), int)
          and k not in ('VIR_ERR_NONE', 'VIR_ERR_WARNING', 'VIR_ERR_ERROR')}
conn = libvirt.open(sys.argv[1])
${body}
out = []
for label, f in steps:
    try:
        out.append({'step': label, 'ok': True, 'value': f()})
    except libvirt.libvirtError as e:
        out.append({'step': label, 'ok': False, 'code': ERRORS.get(e.get_error_code(), str(e.get_error_code()))})
print(json.dumps(out))
`;
  return JSON.parse(execFileSync(PYTHON, ['-c', script, uri, ...args], { encoding: 'utf8' })) as Outcome[];
}

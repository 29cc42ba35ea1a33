/**
 * Runs one scenario both ways: a list of labelled steps against virtkit and
 * the same steps, written in Python, against libvirt through
 * python3-libvirt; each step gives `{ ok, value }` or `{ ok: false, code }`
 * (libvirt's error name without `VIR_ERR_`), so the two can be compared
 * step by step.
 */
import { execFileSync } from 'node:child_process';
import { VirError } from '../../src/errors.js';

export const PYTHON = '/usr/bin/python3';

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
export function runLibvirt(uri: string, body: string): Outcome[] {
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
  return JSON.parse(execFileSync(PYTHON, ['-c', script, uri], { encoding: 'utf8' })) as Outcome[];
}

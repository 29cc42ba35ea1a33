/**
 * The lifecycle events and states of a restore, step by step beside libvirt
 * 9.0's QEMU driver: a private `qemu:///session` libvirtd (as `nobody`,
 * TCG) driven by python3-libvirt does the same saves, restores and starts
 * from a managed save image on the same small guest. After each step both
 * sides define and undefine a throw-away domain and wait for its
 * `undefined` event: events arrive in order, so everything the step sent
 * has arrived by then (no sleeps). Fresh boots are compared too: libvirt 9.0
 * announces one as `resumed/unpaused` before `started/booted`.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import type { AnyDomainEvent } from '../../../src/driver.js';
import { CAN_RUN_LIBVIRT_SESSION } from '../qemu/libvirt-session.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';
import { PYTHON_LIBVIRT } from '../remote/libvirtd.js';

/** One call on both sides; `compare` marks the steps whose events and state are compared. */
type Step = { op: string; compare: boolean };

const STEPS: Step[] = [
  { op: 'start', compare: true },
  { op: 'save', compare: true },
  { op: 'restore', compare: true },
  { op: 'save', compare: true },
  { op: 'restore-paused', compare: true },
  { op: 'managed-save', compare: true },
  { op: 'start', compare: true },
  { op: 'resume', compare: true },
  { op: 'managed-save', compare: true },
  { op: 'start', compare: true },
  { op: 'managed-save', compare: true },
  { op: 'start-paused', compare: true },
  { op: 'destroy', compare: true },
  { op: 'start-paused', compare: true },
  { op: 'resume', compare: true },
  { op: 'destroy', compare: true },
];

const NAME = 'vk-restore-ev';
const GUEST = `<domain type='qemu'><name>${NAME}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><emulator>${QEMU_BINARY}</emulator><memballoon model='none'/></devices></domain>`;
const SENTINEL = `<domain type='qemu'><name>vk-sentinel</name><memory unit='MiB'>32</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>${QEMU_BINARY}</emulator></devices></domain>`;

/** What one step gave: the events of the guest, then its state and reason. */
type Seen = { events: string[]; state: string };

const PY = `
import json, os, sys, threading, libvirt
libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
E = ['defined','undefined','started','suspended','resumed','stopped','shutdown','pmsuspended','crashed']
D = {0: ['added','updated','renamed','from snapshot'], 1: ['removed','renamed'],
     2: ['booted','migrated','restored','from snapshot','wakeup'],
     3: ['paused','migrated','ioerror','watchdog','restored','from snapshot','api error','postcopy','postcopy failed'],
     4: ['unpaused','migrated','from snapshot','postcopy','postcopy failed'],
     5: ['shutdown','destroyed','crashed','migrated','saved','failed','from snapshot'],
     6: ['finished','guest','host']}
S = ['nostate','running','blocked','paused','shutdown','shutoff','crashed','pmsuspended']
R = {1: ['unknown','booted','migrated','restored','from snapshot','unpaused','migration canceled','save canceled','wakeup','crashed','postcopy','postcopy failed'],
     3: ['unknown','user','migration','save','dump','ioerror','watchdog','from snapshot','shutting down','snapshot','crashed','starting up','postcopy','postcopy failed'],
     5: ['unknown','shutdown','destroyed','crashed','migrated','saved','failed','from snapshot','daemon']}
c = libvirt.open('qemu:///session')
events = []
cv = threading.Condition()
def cb(conn, dom, ev, detail, opaque):
    with cv:
        events.append((dom.name(), E[ev], D[ev][detail] if ev in D else str(detail)))
        cv.notify_all()
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb, None)
guest, sentinel, steps = json.loads(sys.stdin.read())
f = os.path.join(os.environ['HOME'], 'guest.img')
d = c.defineXML(guest)
out = []
for s in steps:
    op = s['op']
    if op == 'start': d.create()
    elif op == 'start-paused': d.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    elif op == 'save': d.save(f)
    elif op == 'restore': c.restore(f)
    elif op == 'restore-paused': c.restoreFlags(f, None, libvirt.VIR_DOMAIN_SAVE_PAUSED)
    elif op == 'managed-save': d.managedSave()
    elif op == 'resume': d.resume()
    elif op == 'destroy': d.destroy()
    d = c.lookupByName(d.name())
    c.defineXML(sentinel).undefine()
    with cv:
        if not cv.wait_for(lambda: ('vk-sentinel', 'undefined', 'removed') in events, 60):
            raise SystemExit('no sentinel event')
        mine = [e[1] + '/' + e[2] for e in events if e[0] == d.name()]
        events.clear()
    st, reason = d.state()
    out.append({'events': mine, 'state': S[st] + '/' + (R[st][reason] if st in R else str(reason))})
d.undefine()
print(json.dumps(out))
`;

/** The steps through libvirt, in a daemon of a fresh home as nobody. */
function libvirtRun(): Seen[] {
  const home = mkdtempSync(join(tmpdir(), 'vk-libvirt-'));
  chmodSync(home, 0o777);
  try {
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        'env',
        `HOME=${home}`,
        `XDG_RUNTIME_DIR=${join(home, 'run')}`,
        PYTHON_LIBVIRT as string,
        '-c',
        PY,
      ],
      { encoding: 'utf8', input: JSON.stringify([GUEST, SENTINEL, STEPS]), cwd: home, timeout: 300_000 },
    );
    if (r.status !== 0) throw new Error(`python3-libvirt: ${r.stderr}`);
    return JSON.parse(r.stdout) as Seen[];
  } finally {
    try {
      const pid = Number(readFileSync(join(home, 'run/libvirt/libvirtd.pid'), 'utf8').trim());
      if (pid > 1) process.kill(pid, 'SIGTERM');
    } catch {}
    // a guest the daemon left running when a step failed
    for (const pid of qemuProcessesMentioning(home)) process.kill(pid, 'SIGKILL');
    rmSync(home, { recursive: true, force: true });
  }
}

const allRoots: TestRoots[] = [];
let conn: Connection | undefined;
afterAll(async () => {
  if (conn && !conn.isClosed) {
    for (const d of await conn.listDomains({ active: true })) await d.destroy().catch(() => {});
    await conn.close();
  }
  for (const r of allRoots) for (const pid of qemuProcessesMentioning(r.path)) process.kill(pid, 'SIGKILL');
  for (const r of allRoots) r.remove();
});

/** The same steps through virtkit's QEMU driver. */
async function ourRun(): Promise<Seen[]> {
  const roots = tempRoots('vk-restore-ev-');
  allRoots.push(roots);
  conn = await connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      runDir: join(roots.path, 'rundir'),
      stateDir: join(roots.path, 'state'),
      configDir: join(roots.path, 'config'),
      logDir: join(roots.path, 'log'),
      emulators: [QEMU_BINARY],
    },
  });
  const c = conn;
  const events: { name: string; text: string }[] = [];
  let wake: (() => void) | undefined;
  void (async () => {
    for await (const e of c.events() as AsyncIterable<AnyDomainEvent>) {
      if (e.type !== 'lifecycle') continue;
      events.push({ name: e.domain.name, text: `${e.event}/${e.detail}` });
      wake?.();
    }
  })();
  const file = join(roots.path, 'guest.img');
  let dom: Domain = await c.defineDomain(GUEST);
  const out: Seen[] = [];
  for (const s of STEPS) {
    if (s.op === 'start') await dom.start();
    else if (s.op === 'start-paused') await dom.start({ paused: true });
    else if (s.op === 'save') await dom.save(file);
    else if (s.op === 'restore') dom = await c.restoreDomain(file);
    else if (s.op === 'restore-paused') dom = await c.restoreDomain(file, { paused: true });
    else if (s.op === 'managed-save') await dom.managedSave();
    else if (s.op === 'resume') await dom.resume();
    else if (s.op === 'destroy') await dom.destroy();
    await (await c.defineDomain(SENTINEL)).undefine();
    while (!events.some((e) => e.name === 'vk-sentinel' && e.text === 'undefined/removed'))
      await new Promise<void>((r) => {
        wake = r;
      });
    const mine = events.filter((e) => e.name === NAME).map((e) => e.text);
    events.length = 0;
    const st = await dom.getState();
    out.push({ events: mine, state: `${st.state}/${st.reason}` });
  }
  return out;
}

const CAN = HAS_QEMU && CAN_RUN_LIBVIRT_SESSION && PYTHON_LIBVIRT !== undefined;

describe.skipIf(!CAN)(
  `restore events and states against libvirt 9.0${CAN ? '' : ' (skipped: needs root, libvirtd, setpriv, python3-libvirt and QEMU)'}`,
  () => {
    it('boot, save, restore (running or paused) and start from a managed save, step by step', async () => {
      const theirs = libvirtRun();
      const ours = await ourRun();
      for (const [i, s] of STEPS.entries())
        if (s.compare) expect(ours[i], `${i}: ${s.op}`).toEqual(theirs[i]);
    }, 300_000);
  },
);

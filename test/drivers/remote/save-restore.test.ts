/**
 * Save, restore, managed save removal and the maximum memory through the
 * remote driver against a real libvirtd serving its test driver, with
 * python3-libvirt doing the same on the same daemon as the reference: the
 * same states and reasons, files and definitions after each step.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import { type Daemon, LIBVIRTD, PYTHON_LIBVIRT, startLibvirtd } from './libvirtd.js';

let daemon: Daemon;
let conn: Connection;
const dir = mkdtempSync(join(tmpdir(), 'vk-remote-save-'));
// the daemon may run as another user (see libvirtd.ts): it writes the images here
chmodSync(dir, 0o777);

beforeAll(async () => {
  if (!LIBVIRTD) return;
  daemon = await startLibvirtd();
  conn = await connect(daemon.unixUri);
});

afterAll(async () => {
  await conn?.close();
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function domainXml(name: string): string {
  return `<domain type='test'>
  <name>${name}</name>
  <memory unit='KiB'>65536</memory>
  <vcpu>1</vcpu>
  <os><type arch='i686'>hvm</type></os>
</domain>`;
}

/** The same steps through python3-libvirt: [state, reason] after each, and the max memory. */
function pythonSteps(uri: string, name: string, file: string): unknown {
  const script = `import json, sys, libvirt
c = libvirt.open(sys.argv[1])
d = c.defineXML(sys.argv[2])
d.create()
out = {}
d.managedSave(0)
out['msave'] = list(d.state()) + [d.hasManagedSaveImage(0)]
d.managedSaveRemove(0)
out['removed'] = d.hasManagedSaveImage(0)
d.create()
d.save(sys.argv[3])
out['saved'] = list(d.state())
c.restore(sys.argv[3])
out['restored'] = list(c.lookupByName(sys.argv[4]).state())
d = c.lookupByName(sys.argv[4])
d.destroy()
d.setMemoryFlags(32768, libvirt.VIR_DOMAIN_MEM_MAXIMUM | libvirt.VIR_DOMAIN_AFFECT_CONFIG)
out['max'] = d.maxMemory()
print(json.dumps(out))`;
  return JSON.parse(
    execFileSync(PYTHON_LIBVIRT!, ['-c', script, uri, domainXml(name), file, name], { encoding: 'utf8' }),
  );
}

const STATE: Record<string, number> = { running: 1, paused: 3, shutoff: 5 };
// libvirt's virDomainShutoffReason and virDomainRunningReason numbers of the reasons met here
const REASON: Record<string, number> = { 'shutoff/saved': 5, 'running/restored': 3, 'running/booted': 1 };

describe.skipIf(!LIBVIRTD || !PYTHON_LIBVIRT)('save and restore through the remote driver', () => {
  it('agrees with python3-libvirt on the same daemon', async () => {
    const ref = pythonSteps(daemon.unixUri, 'vk-py-save', join(dir, 'py.img')) as Record<string, unknown>;
    const dom = await conn.defineDomain(domainXml('vk-vk-save'));
    await dom.start();
    const out: Record<string, unknown> = {};
    const num = (s: { state: string; reason: string }) => [STATE[s.state], REASON[`${s.state}/${s.reason}`]];
    await dom.managedSave();
    out.msave = [...num(await dom.getState()), (await dom.hasManagedSave()) ? 1 : 0];
    await dom.managedSaveRemove();
    out.removed = (await dom.hasManagedSave()) ? 1 : 0;
    await dom.start();
    const file = join(dir, 'vk.img');
    await conn.saveDomain(dom, file);
    out.saved = num(await dom.getState());
    expect(existsSync(file)).toBe(true);
    const back = await conn.restoreDomain(file);
    expect(back.uuid).toBe(dom.uuid);
    out.restored = num(await back.getState());
    await back.destroy();
    await back.setMaxMemory(32768, { config: true });
    out.max = (await back.getInfo()).maxMem;
    expect(out).toEqual(ref);
  });
});

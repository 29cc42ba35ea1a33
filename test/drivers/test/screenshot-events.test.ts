/**
 * The test driver's screenshot and event ids, as libvirt's test driver
 * behaves through python3-libvirt on test:///default: a PNG for any domain
 * (running or not, any screen), and only lifecycle events from the calls
 * both drivers have (libvirt's test driver sends no reboot event).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import type { AnyDomainEvent } from '../../../src/driver.js';
import { PYTHON_LIBVIRT } from '../remote/libvirtd.js';

const HAS_PNGTOPNM = (() => {
  try {
    execFileSync('pngtopnm', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** What libvirt's test driver answers, through python3-libvirt. */
function libvirtShots(): { mime: string; png: boolean }[] {
  const out = execFileSync(
    PYTHON_LIBVIRT as string,
    [
      '-c',
      `import json, libvirt
c = libvirt.open('test:///default'); d = c.lookupByName('test'); res = []
def shot(screen):
    s = c.newStream(0); mime = d.screenshot(s, screen); data = b''
    while True:
        b = s.recv(262144)
        if not b: break
        data += b
    s.finish(); res.append({'mime': mime, 'png': data[:8] == b'\\x89PNG\\r\\n\\x1a\\n'})
shot(0); shot(1); d.destroy(); shot(0)
print(json.dumps(res))`,
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(out) as { mime: string; png: boolean }[];
}

describe('test driver screenshot', () => {
  it.skipIf(!PYTHON_LIBVIRT)(
    "answers as libvirt's test driver: a PNG for screen 0 and 1, running or not (skipped without python3-libvirt)",
    async () => {
      const conn = await connect('test:///default');
      const dom = await conn.lookupDomain('test');
      const ours: { mime: string; png: boolean }[] = [];
      const record = async (screen: number) => {
        const s = await dom.screenshot({ screen });
        ours.push({
          mime: s.mime,
          png: Buffer.from(s.data.subarray(0, 8)).equals(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1')),
        });
        return s;
      };
      const first = await record(0);
      await record(1);
      await dom.destroy();
      await record(0);
      expect(ours).toEqual(libvirtShots());
      if (HAS_PNGTOPNM) {
        const ppm = execFileSync('pngtopnm', [], { input: first.data });
        expect(ppm.subarray(0, 2).toString('latin1')).toBe('P6');
      }
      await expect(dom.screenshot({ screen: -1 })).rejects.toMatchObject({
        code: 'INVALID_ARG',
        field: 'screen',
      });
      await conn.close();
    },
  );
});

describe('test driver event ids', () => {
  it('delivers only the ids asked for; reboot: true keeps adding reboot', async () => {
    const conn = await connect('test:///default');
    const dom = await conn.lookupDomain('test');
    const lifecycleOnly = conn.events();
    const rebootOnly = conn.events({ ids: ['reboot'] });
    const both = conn.events({ reboot: true });
    await dom.suspend();
    await dom.resume();
    const first = (await lifecycleOnly.next()).value as AnyDomainEvent;
    expect(first).toMatchObject({ type: 'lifecycle', event: 'suspended' });
    expect((await both.next()).value).toMatchObject({ type: 'lifecycle', event: 'suspended' });
    // nothing of these reached the reboot-only stream
    const pending = await Promise.race([
      rebootOnly.next(),
      new Promise((r) => setTimeout(() => r('none'), 50)),
    ]);
    expect(pending).toBe('none');
    rebootOnly.end();
    lifecycleOnly.end();
    both.end();
    await conn.close();
  });
});

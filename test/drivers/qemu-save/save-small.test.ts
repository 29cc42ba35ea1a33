/**
 * Save, restore and managed save with real QEMU under TCG, on a small
 * diskless guest (SeaBIOS finds nothing to boot and waits, running). The
 * states, reasons and events are libvirt's 9.0, read from a private
 * `qemu:///session` libvirtd through python3-libvirt doing the same steps:
 * a save ends `shutoff/saved`; a restore of a running image sends
 * `started/restored` then `resumed/from snapshot` (the RESUME handler's
 * word for the `restored` running reason) and runs `running/restored`; one
 * left paused (a paused image, or the restore's paused flag) stays
 * `paused/migration` with `suspended/restored`, and a start from a managed
 * save with the start's paused flag sends `suspended/paused` instead; a save
 * of a paused guest sends only `stopped/saved`. The managed save image is restored by
 * `start()` and removed; bad input is a typed error that leaves the
 * definition, the guest and the files as they were.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitForLength } from '../../wait-for.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import { errorOf, eventHostsEachTest } from '../real-guest.js';

const hosts = eventHostsEachTest();
const host = () => hosts.host('vk-save-');

let n = 0;
function guestXml(name: string): string {
  n++;
  const uuid = `c3c3c3c3-0000-4000-8000-${String(process.pid * 100 + n).padStart(12, '0')}`;
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator><memballoon model='none'/></devices>
</domain>`;
}

describe.skipIf(!HAS_QEMU)(`save, restore and managed save${QEMU_NOTE}`, () => {
  it('managed save stops the guest saved; start restores it and removes the image', async () => {
    const h = await host();
    const dom = await h.conn.defineDomain(guestXml('vk-msave'));
    await dom.start();
    expect(await dom.hasManagedSave()).toBe(false);
    await dom.managedSave();
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'saved' });
    expect(await dom.hasManagedSave()).toBe(true);
    const image = join(h.state, 'qemu', 'save', 'vk-msave.save');
    expect(readFileSync(image).subarray(0, 16).toString('latin1')).toBe('VirtkitSaveImage');
    // The header holds the live definition.
    expect(readFileSync(image).toString('utf8', 32, 2000)).toContain('<name>vk-msave</name>');
    expect(qemuProcessesMentioning(h.roots.path)).toEqual([]);
    // libvirt refuses to undefine (or rename) a domain whose managed save waits.
    const undef = await errorOf(dom.undefine());
    expect(undef.code).toBe('OPERATION_INVALID');
    expect(await dom.isPersistent()).toBe(true);

    await dom.start();
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'restored' });
    expect(await dom.hasManagedSave()).toBe(false);
    expect(existsSync(image)).toBe(false);
    expect(await waitForLength(h.events, 7)).toEqual([
      'defined/added',
      'resumed/unpaused',
      'started/booted',
      'suspended/paused',
      'stopped/saved',
      'started/restored',
      'resumed/from snapshot',
    ]);
    // A second managed save of the restored guest works as the first.
    await dom.managedSave();
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'saved' });
    await dom.managedSaveRemove();
    expect(await dom.hasManagedSave()).toBe(false);
    // Without the image, start boots afresh; removing no image is no error (as libvirt's).
    await dom.managedSaveRemove();
    await dom.start();
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'booted' });
  });

  it('save to a file and restore from it: a paused guest comes back paused, the file stays', async () => {
    const h = await host();
    const dom = await h.conn.createDomain(guestXml('vk-save-file'), { paused: true });
    const file = join(h.roots.path, 'guest.img');
    await h.conn.saveDomain(dom, file);
    // A transient domain is gone once saved.
    expect(await h.conn.listDomains()).toEqual([]);
    const back = await h.conn.restoreDomain(file);
    expect(back.name).toBe('vk-save-file');
    expect(back.uuid).toBe(dom.uuid);
    expect(await back.getState()).toEqual({ state: 'paused', reason: 'migration' });
    expect(await back.isPersistent()).toBe(false);
    expect(existsSync(file)).toBe(true);
    // The domain is active: a second restore of it is refused, nothing changes.
    const again = await errorOf(h.conn.restoreDomain(file));
    expect(again.code).toBe('OPERATION_INVALID');
    expect(await back.getState()).toEqual({ state: 'paused', reason: 'migration' });
    await back.resume();
    expect((await back.getState()).state).toBe('running');
    expect(await waitForLength(h.events, 6)).toEqual([
      'started/booted',
      'suspended/paused',
      'stopped/saved',
      'started/restored',
      'suspended/restored',
      'resumed/unpaused',
    ]);
  });

  it('restores a running guest running, and a persistent one keeps its definition', async () => {
    const h = await host();
    const dom = await h.conn.defineDomain(guestXml('vk-save-run'));
    await dom.start();
    const file = join(h.roots.path, 'run.img');
    await dom.save(file);
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'saved' });
    expect(await dom.isPersistent()).toBe(true);
    const back = await h.conn.restoreDomain(file);
    expect(await back.getState()).toEqual({ state: 'running', reason: 'restored' });
    expect(await back.isPersistent()).toBe(true);
    // restore with paused: the guest waits (libvirt's VIR_DOMAIN_SAVE_PAUSED).
    await back.save(file);
    const paused = await h.conn.restoreDomain(file, { paused: true });
    expect(await paused.getState()).toEqual({ state: 'paused', reason: 'migration' });
    expect(await waitForLength(h.events, 11)).toEqual([
      'defined/added',
      'resumed/unpaused',
      'started/booted',
      'suspended/paused',
      'stopped/saved',
      'started/restored',
      'resumed/from snapshot',
      'suspended/paused',
      'stopped/saved',
      'started/restored',
      // the restore's paused flag only marks the image not running
      'suspended/restored',
    ]);
  });

  it('a start from a managed save image: running, paused by the start, or paused in the image', async () => {
    const h = await host();
    const dom = await h.conn.defineDomain(guestXml('vk-msave-paused'));
    await dom.start();
    await dom.managedSave();
    await dom.start({ paused: true });
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'migration' });
    // A paused guest is saved as it is: no suspend event.
    await dom.managedSave();
    await dom.start();
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'migration' });
    await dom.resume();
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'unpaused' });
    expect(await waitForLength(h.events, 11)).toEqual([
      'defined/added',
      'resumed/unpaused',
      'started/booted',
      'suspended/paused',
      'stopped/saved',
      'started/restored',
      'suspended/paused',
      'stopped/saved',
      'started/restored',
      'suspended/restored',
      'resumed/unpaused',
    ]);
  });

  it('refuses bad input with typed errors and leaves no stray files', async () => {
    const h = await host();
    const dom = await h.conn.defineDomain(guestXml('vk-save-bad'));
    // Not running.
    expect((await errorOf(dom.managedSave())).code).toBe('OPERATION_INVALID');
    expect((await errorOf(dom.save(join(h.roots.path, 'x.img')))).code).toBe('OPERATION_INVALID');
    expect(existsSync(join(h.roots.path, 'x.img'))).toBe(false);
    // A relative path.
    const rel = await errorOf(dom.save('relative.img'));
    expect(rel.code).toBe('INVALID_ARG');
    expect(rel.field).toBe('path');
    expect((await errorOf(h.conn.restoreDomain('relative.img'))).field).toBe('path');
    // A file that is not a save image, and one that does not exist.
    const junk = join(h.roots.path, 'junk.img');
    writeFileSync(junk, Buffer.alloc(8192, 7));
    const notImage = await errorOf(h.conn.restoreDomain(junk));
    expect(notImage.code).toBe('INVALID_ARG');
    expect(notImage.field).toBe('path');
    expect((await errorOf(h.conn.restoreDomain(join(h.roots.path, 'none.img')))).code).toBe('SYSTEM_ERROR');
    expect(await h.conn.listDomains()).toHaveLength(1);

    await dom.start();
    // A place that cannot be written: the guest runs on, nothing is left.
    const unwritable = await errorOf(dom.save(join(h.roots.path, 'no-such-dir', 'x.img')));
    expect(unwritable.code).toBe('SYSTEM_ERROR');
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'booted' });
    // A transient domain has no managed save.
    const t = await h.conn.createDomain(guestXml('vk-save-transient'));
    expect((await errorOf(t.managedSave())).code).toBe('OPERATION_INVALID');
    expect((await t.getState()).state).toBe('running');
    const saveDir = join(h.state, 'qemu', 'save');
    expect(existsSync(saveDir) ? readdirSync(saveDir) : []).toEqual([]);
  });

  it('a partial managed save image (a save that did not finish) is dropped and the guest boots', async () => {
    const h = await host();
    const dom = await h.conn.defineDomain(guestXml('vk-save-partial'));
    await dom.start();
    await dom.managedSave();
    const image = join(h.state, 'qemu', 'save', 'vk-save-partial.save');
    const bytes = readFileSync(image);
    // What a save killed before its end leaves: the header's partial magic.
    Buffer.from('VirtkitSavePart\0', 'latin1').copy(bytes, 0);
    writeFileSync(image, bytes);
    expect((await errorOf(h.conn.restoreDomain(image))).message).toContain('partial');
    await dom.start();
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'booted' });
    expect(existsSync(image)).toBe(false);
  });
});

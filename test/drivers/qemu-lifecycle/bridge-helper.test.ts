/**
 * qemu-bridge-helper as an unprivileged start sees it: found as libvirt
 * finds it (qemu.conf's bridge_helper name or path, PATH, then libvirt's
 * directories), its setuid bit, its ACL file's rules (QEMU's documented
 * format: allow/deny NAME|all, include FILE, a deny winning), and the
 * refusal naming the interface with the first reason that applies.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bridgeAclAllows,
  findBridgeHelper,
  isSetuidRoot,
  unprivilegedBridgeHelper,
} from '../../../src/drivers/qemu/lifecycle/bridge-helper.js';
import { isVirError } from '../../../src/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vk-brh-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string, mode = 0o644): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
}

function refusal(fn: () => unknown): { code?: string; field?: string | undefined; message: string } {
  try {
    fn();
  } catch (e) {
    if (isVirError(e)) return { code: e.code, field: e.field, message: e.message };
    throw e;
  }
  throw new Error('not refused');
}

const IS_ROOT = process.getuid?.() === 0;

describe('qemu-bridge-helper', () => {
  it('is found by path, or by name on PATH and then in the directories given', () => {
    const helper = file('my-helper', '#!/bin/sh\n', 0o755);
    expect(findBridgeHelper(helper)).toBe(helper);
    expect(findBridgeHelper(join(dir, 'missing'))).toBeUndefined();
    expect(findBridgeHelper('my-helper', { PATH: dir }, [])).toBe(helper);
    expect(findBridgeHelper('my-helper', { PATH: '/nonexistent' }, [dir])).toBe(helper);
    expect(findBridgeHelper('my-helper', { PATH: '/nonexistent' }, [])).toBeUndefined();
    // a relative path with a directory is neither a name nor a path
    expect(findBridgeHelper('sub/my-helper', { PATH: dir }, [])).toBeUndefined();
  });

  it.skipIf(!IS_ROOT)('only a root-owned file with the setuid bit counts as setuid root', () => {
    expect(isSetuidRoot(file('plain', '', 0o755))).toBe(false);
    expect(isSetuidRoot(file('suid', '', 0o4755))).toBe(true);
    expect(isSetuidRoot(join(dir, 'missing'))).toBe(false);
  });

  it('the ACL allows named bridges and all, a deny wins, includes are followed', () => {
    const inc = file('inc.conf', 'allow br2\n');
    const acl = file('bridge.conf', `# comment\nallow br0\ndeny br1\nallow br1\ninclude ${inc}\n`);
    expect(bridgeAclAllows('br0', acl)).toBe(true);
    expect(bridgeAclAllows('br1', acl)).toBe(false);
    expect(bridgeAclAllows('br2', acl)).toBe(true);
    expect(bridgeAclAllows('br3', acl)).toBe(false);
    expect(bridgeAclAllows('br3', file('all.conf', 'allow all\n'))).toBe(true);
    expect(bridgeAclAllows('br0', file('deny.conf', 'allow all\ndeny all\n'))).toBe(false);
    expect(bridgeAclAllows('br0', join(dir, 'missing.conf'))).toBe('unreadable');
    // an include loop ends
    const loop = join(dir, 'loop.conf');
    writeFileSync(loop, `include ${loop}\nallow br0\n`);
    expect(bridgeAclAllows('br0', loop)).toBe(true);
  });

  it('an unprivileged bridge is refused naming the interface with the first reason that applies, else QEMU gets the helper', () => {
    const field = '/domain/devices/interface[2]';
    const missing = refusal(() => unprivilegedBridgeHelper('br0', field, { helper: join(dir, 'none') }));
    expect(missing).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field: `${field}/@type` });
    expect(missing.message).toMatch(/is not installed/);
    const plain = file('plain-helper', '', 0o755);
    expect(refusal(() => unprivilegedBridgeHelper('br0', field, { helper: plain })).message).toMatch(
      /is not setuid root/,
    );
    if (!IS_ROOT) return;
    const suid = file('suid-helper', '', 0o4755);
    const acl = file('bridge.conf', 'allow br0\n');
    expect(
      refusal(() => unprivilegedBridgeHelper('br9', field, { helper: suid, aclFile: acl })).message,
    ).toMatch(/does not allow bridge 'br9'/);
    // allowed: QEMU is given the helper to run itself (-netdev bridge,helper=)
    expect(unprivilegedBridgeHelper('br0', field, { helper: suid, aclFile: acl })).toBe(suid);
    // an ACL this user cannot judge is the helper's to judge
    expect(unprivilegedBridgeHelper('br0', field, { helper: suid, aclFile: join(dir, 'none.conf') })).toBe(
      suid,
    );
  });
});

/**
 * qemu:///session networks as an unprivileged user (the nobody user, through
 * setpriv, as the other unprivileged tests): a NAT network, which would
 * create a bridge, is refused with the reason; a `forward mode='bridge'`
 * network on an existing host bridge starts, and a guest's `<interface
 * type='network'>` on it joins the bridge through qemu-bridge-helper, run by
 * QEMU itself (`-netdev bridge`). For that the test makes the installed
 * helper setuid root and allows the bridge in /etc/qemu/bridge.conf, and
 * puts both back as they were afterwards.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BRIDGE_ACL_FILE, findBridgeHelper } from '../../../src/drivers/qemu/lifecycle/bridge-helper.js';
import { AS_NOBODY_NOTE, nobodyDir, processesMentioning, startAsNobody } from '../qemu-domains/as-nobody.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu-lifecycle/helpers.js';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
const HELPER = findBridgeHelper();
const NOTE = !IP
  ? ' (skipped: no ip command to make a test bridge)'
  : !HELPER
    ? ' (skipped: qemu-bridge-helper not installed; Debian: qemu-system-common)'
    : '';
const BR = 'vk-qnet1';

let root: string;
beforeEach(() => {
  root = nobodyDir('vk-qnet-s-');
  execFileSync(IP as string, ['link', 'add', BR, 'type', 'bridge']);
});
afterEach(() => {
  for (const pid of processesMentioning(root)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
  if (existsSync(`/sys/class/net/${BR}`)) execFileSync(IP as string, ['link', 'del', BR]);
});

/** Runs `fn` with the helper setuid root and the bridge allowed, then restores both as they were. */
async function withHelperAllowed<T>(fn: () => Promise<T>): Promise<T> {
  const helper = HELPER as string;
  const mode = statSync(helper).mode & 0o7777;
  const acl = existsSync(BRIDGE_ACL_FILE) ? readFileSync(BRIDGE_ACL_FILE) : undefined;
  const aclDir = existsSync('/etc/qemu');
  try {
    chmodSync(helper, mode | 0o4000);
    mkdirSync('/etc/qemu', { recursive: true });
    writeFileSync(BRIDGE_ACL_FILE, `${acl?.toString() ?? ''}allow ${BR}\n`, { mode: 0o644 });
    return await fn();
  } finally {
    chmodSync(helper, mode);
    if (acl !== undefined) writeFileSync(BRIDGE_ACL_FILE, acl);
    else rmSync(BRIDGE_ACL_FILE, { force: true });
    if (!aclDir) rmSync('/etc/qemu', { recursive: true, force: true });
  }
}

describe.skipIf(!HAS_QEMU || AS_NOBODY_NOTE !== '' || NOTE !== '')(
  `virtual networks of an unprivileged user${QEMU_NOTE}${AS_NOBODY_NOTE}${NOTE}`,
  () => {
    it('a NAT network is refused with the reason; a bridge network joins the guest through qemu-bridge-helper', async () => {
      const guest = `<domain type='qemu'><name>vk-qnet-s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>
  <interface type='network'><mac address='52:54:00:71:00:21'/><source network='qnet-br'/><model type='virtio'/></interface>
  </devices></domain>`;
      const [nat, bridged, started] = await withHelperAllowed(() =>
        startAsNobody(root, [guest], {
          networks: [
            `<network><name>qnet-nat</name><forward mode='nat'/><bridge name='vk-qnet0'/><ip address='10.213.9.1' prefix='24'/></network>`,
            `<network><name>qnet-br</name><forward mode='bridge'/><bridge name='${BR}'/></network>`,
          ],
          // and one more on the bridge, plugged live
          attach: [
            `<interface type='bridge'><mac address='52:54:00:71:00:22'/><source bridge='${BR}'/><model type='virtio'/></interface>`,
          ],
        }),
      );
      expect(nat?.uid).not.toBe(0);
      expect(nat?.error).toMatchObject({ code: 'OPERATION_INVALID', field: '/network/forward/@mode' });
      expect(nat?.error?.message).toMatch(/takes root/);
      expect(existsSync('/sys/class/net/vk-qnet0')).toBe(false);
      expect(bridged?.ok, JSON.stringify(bridged)).toBe(true);
      expect(started?.ok, JSON.stringify(started)).toBe(true);
      // QEMU ran the helper itself, on the network's bridge
      const qemu = started?.processes?.find((argv) => argv[0] === QEMU_BINARY) ?? [];
      const netdev = qemu[qemu.indexOf('-netdev') + 1] ?? '';
      expect(netdev).toMatch(
        new RegExp(`"type":"bridge".*"br":"${BR}".*"helper":"${HELPER}"|bridge,br=${BR},helper=${HELPER}`),
      );
      expect(started?.liveXml).toMatch(
        new RegExp(`<source network='qnet-br' portid='[0-9a-f-]{36}' bridge='${BR}'/>`),
      );
      // the live definition names the taps the helper made: the ones the bridge had while the guest ran
      const taps = started?.bridgePorts?.[BR] ?? [];
      expect(taps).toHaveLength(2);
      const named = [...(started?.liveXml ?? '').matchAll(/<target dev='([^']+)'\/>/g)].map((m) => m[1]);
      expect(named.sort()).toEqual(taps);
      // the helper's tap is gone with the guest
      expect(readdirSync(`/sys/class/net/${BR}/brif`)).toEqual([]);
      expect(processesMentioning(root)).toEqual([]);
    }, 120_000);
  },
);

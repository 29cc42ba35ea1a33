/**
 * The net-port-* commands: beside the installed virsh on test:///default
 * (whose networks have no ports: help, refusals and the statuses virsh
 * gives), and for real on a qemu:///session network joined to a host
 * bridge this test makes (as root, with `ip`), its own roots in a temp dir.
 * The lines expected there are virsh's messages and table layout.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import { spawnVirsh } from './virsh-peer.js';

const HAS_VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
const ROOT = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'vk-cli2-ports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PORT_UUID = '5d8e1a3c-0a2b-4c6d-8e9f-0123456789ab';
const PORT = join(dir, 'port.xml');
writeFileSync(
  PORT,
  `<networkport><uuid>${PORT_UUID}</uuid><owner><name>g1</name>` +
    "<uuid>11111111-2222-3333-4444-555555555555</uuid></owner><mac address='52:54:00:aa:bb:cc'/></networkport>\n",
);

describe.skipIf(!HAS_VIRSH)(
  `net-port-* beside virsh on test:///default${HAS_VIRSH ? '' : ' (skipped: no virsh)'}`,
  () => {
    const virsh = (line: string) => {
      const r = spawnVirsh(['-c', 'test:///default', line], { env: { ...process.env, LC_ALL: 'C' } });
      return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
    };
    for (const line of [
      'net-port-list --help',
      'net-port-create --help',
      'net-port-dumpxml --help',
      'net-port-delete --help',
      'net-port-dumpxml default 00000000-0000-0000-0000-000000000001',
      'net-port-delete default 00000000-0000-0000-0000-000000000001',
      'net-port-list nope',
      'net-port-list default --uuid --table',
      'net-port-dumpxml nope 00000000-0000-0000-0000-000000000001',
    ]) {
      it(`virsh '${line}'`, async () => {
        expect(await runCli(['-c', 'test:///default', line])).toEqual(virsh(line));
      });
    }
    it("virsh 'net-port-list default' (the cause's kind; its words are the library's)", async () => {
      const theirs = virsh('net-port-list default');
      const ours = await runCli(['-c', 'test:///default', 'net-port-list default']);
      expect(ours.code).toBe(theirs.code);
      expect(ours.out).toBe(theirs.out);
      expect(ours.err).toMatch(/^error: this function is not supported by the connection driver: .*\n$/);
    });
  },
);

describe.skipIf(!IP || !ROOT)(
  `net-port-* on a qemu:///session bridge network${!IP || !ROOT ? ' (skipped: needs root and ip to make a bridge)' : ''}`,
  () => {
    it('creates, lists, dumps and deletes a port; a second create of the same UUID is refused', async () => {
      const br = 'vk-cli20';
      const net = join(dir, 'net.xml');
      writeFileSync(
        net,
        `<network><name>vk-cli2-br</name><forward mode='bridge'/><bridge name='${br}'/></network>\n`,
      );
      const env: Record<string, string> = {};
      for (const k of ['CACHE', 'CONFIG', 'STATE', 'RUN', 'LOG']) env[`VIRTKIT_QEMU_${k}_DIR`] = join(dir, k);
      const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      execFileSync(IP as string, ['link', 'add', br, 'type', 'bridge']);
      Object.assign(process.env, env);
      try {
        const r = await runCli([
          '-c',
          'qemu:///session',
          `net-define ${net}; net-start vk-cli2-br; net-port-create vk-cli2-br ${PORT}; net-port-list vk-cli2-br; ` +
            `net-port-list vk-cli2-br --uuid; net-port-dumpxml vk-cli2-br ${PORT_UUID}; net-port-create vk-cli2-br ${PORT}; ` +
            `net-port-delete vk-cli2-br ${PORT_UUID}; net-port-list vk-cli2-br; net-port-delete vk-cli2-br ${PORT_UUID}; ` +
            'net-destroy vk-cli2-br; net-undefine vk-cli2-br',
        ]);
        expect(r.err.split('\n')).toEqual([
          `error: Failed to create network from ${PORT}`,
          `error: operation failed: Network port with UUID ${PORT_UUID} already exists`,
          `error: failed to get network port '${PORT_UUID}'`,
          '',
        ]);
        expect(r.out.split('\n')).toEqual([
          `Network vk-cli2-br defined from ${net}`,
          '',
          'Network vk-cli2-br started',
          '',
          `Network port ${PORT_UUID} created from ${PORT}`,
          '',
          ' UUID',
          '-'.repeat(39),
          ` ${PORT_UUID}`,
          '',
          PORT_UUID,
          '',
          '<networkport>',
          `  <uuid>${PORT_UUID}</uuid>`,
          '  <owner>',
          '    <name>g1</name>',
          '    <uuid>11111111-2222-3333-4444-555555555555</uuid>',
          '  </owner>',
          "  <mac address='52:54:00:aa:bb:cc'/>",
          `  <plug type='bridge' bridge='${br}'/>`,
          '</networkport>',
          '',
          '',
          `Network port ${PORT_UUID} deleted`,
          '',
          ' UUID',
          '-------',
          '',
          '',
          'Network vk-cli2-br destroyed',
          '',
          'Network vk-cli2-br has been undefined',
          '',
          '',
        ]);
        expect(r.code).toBe(0);
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
        execFileSync(IP as string, ['link', 'del', br]);
      }
    }, 60_000);
  },
);

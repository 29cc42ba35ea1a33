/**
 * The pieces of a network start that need no root: the routing table as
 * the kernel writes it, compared with what `ip route` reports on this host;
 * dnsmasq's configuration checked by dnsmasq itself (`--test`); its lease
 * file format as dnsmasq documents it; the nftables script checked by `nft
 * --check` when nft is there; a value that would start another dnsmasq
 * option refused naming its field.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NetworkDef } from '../../../src/conf/network/network-def.js';
import {
  dnsmasqConfig,
  dnsmasqFiles,
  dnsmasqUser,
  parseLeases,
} from '../../../src/drivers/qemu/network/dnsmasq.js';
import { rulesScript } from '../../../src/drivers/qemu/network/firewall.js';
import { hostRoutes, ipv4Number, prefixMask } from '../../../src/drivers/qemu/network/host-net.js';
import { VirError } from '../../../src/errors.js';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
const DNSMASQ = ['/usr/sbin/dnsmasq', '/sbin/dnsmasq'].find((p) => existsSync(p));
const NFT = ['/usr/sbin/nft', '/sbin/nft'].find((p) => existsSync(p));
const dir = mkdtempSync(join(tmpdir(), 'vk-qnet-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NET = NetworkDef.fromXML(`<network><name>files</name><forward mode='nat'/><bridge name='vk-qnet5'/>
  <domain name='files.test' localOnly='yes'/>
  <dns><host ip='10.213.20.7'><hostname>web</hostname><hostname>www</hostname></host></dns>
  <ip address='10.213.20.1' prefix='24'><dhcp>
    <range start='10.213.20.10' end='10.213.20.19'><lease expiry='2' unit='hours'/></range>
    <host mac='52:54:00:71:00:05' name='fixed' ip='10.213.20.5'/>
  </dhcp></ip></network>`);

describe('network files', () => {
  it.skipIf(!IP)("reads the kernel's routes as `ip route` reports them", () => {
    const ours = hostRoutes()
      .map(
        (r) => `${[24, 16, 8, 0].map((s) => (r.dest >>> s) & 0xff).join('.')}/${countBits(r.mask)} ${r.dev}`,
      )
      .sort();
    const theirs = (
      JSON.parse(
        execFileSync(IP as string, ['-j', '-4', 'route', 'show', 'table', 'main'], { encoding: 'utf8' }),
      ) as Array<{ dst: string; dev: string }>
    )
      .filter((r) => r.dst !== 'default')
      .map((r) => `${r.dst.includes('/') ? r.dst : `${r.dst}/32`} ${r.dev}`)
      .sort();
    expect(ours).toEqual(theirs);
    expect(ipv4Number('10.213.20.1') & prefixMask(24)).toBe(ipv4Number('10.213.20.0'));
  });

  it.skipIf(!DNSMASQ)('writes a configuration dnsmasq accepts, with the ranges, hosts and domain', () => {
    const files = dnsmasqFiles(dir, 'files');
    const cfg = dnsmasqConfig(NET, 'vk-qnet5', files, 24);
    expect(cfg.conf).toContain('dhcp-range=10.213.20.10,10.213.20.19,255.255.255.0,7200\n');
    expect(cfg.conf).toContain('dhcp-lease-max=10\n');
    expect(cfg.conf).toContain('local=/files.test/\ndomain=files.test\n');
    expect(cfg.hosts).toBe('52:54:00:71:00:05,10.213.20.5,fixed\n');
    expect(cfg.addnHosts).toBe('10.213.20.7\tweb\twww\n');
    writeFileSync(files.conf, cfg.conf);
    // dnsmasq's own syntax check of the whole file
    expect(
      execFileSync(DNSMASQ as string, ['--test', `--conf-file=${files.conf}`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ).toBe('');
  });

  it("picks dnsmasq's account as Debian's packages make them: dnsmasq, else nobody, else root", () => {
    // dnsmasq-base's postinst adds a system user dnsmasq in nogroup; base-passwd has nobody:nogroup
    const debian =
      'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\ndnsmasq:x:999:65534:dnsmasq:/var/lib/misc:/usr/sbin/nologin\n';
    const groups = 'root:x:0:\nnogroup:x:65534:\n';
    expect(dnsmasqUser(debian, groups)).toEqual({ user: 'dnsmasq', group: 'nogroup' });
    expect(
      dnsmasqUser(
        debian
          .split('\n')
          .filter((l) => !l.startsWith('dnsmasq'))
          .join('\n'),
        groups,
      ),
    ).toEqual({
      user: 'nobody',
      group: 'nogroup',
    });
    expect(dnsmasqUser('nobody:x:65534:65534::/:/bin/false\n', '')).toEqual({ user: 'nobody' });
    expect(dnsmasqUser('root:x:0:0:root:/root:/bin/sh\n', groups)).toEqual({ user: 'root' });
  });

  it.skipIf(!DNSMASQ)("names this host's account in the configuration, which dnsmasq accepts", () => {
    const passwd = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => l.split(':')[0]);
    const want = passwd.includes('dnsmasq') ? 'dnsmasq' : passwd.includes('nobody') ? 'nobody' : 'root';
    const runAs = dnsmasqUser();
    expect(runAs.user).toBe(want);
    const files = dnsmasqFiles(dir, 'user');
    const cfg = dnsmasqConfig(NET, 'vk-qnet5', files, 24, runAs);
    expect(cfg.conf).toContain(`\nuser=${want}\n`);
    writeFileSync(files.conf, cfg.conf);
    expect(
      execFileSync(DNSMASQ as string, ['--test', `--conf-file=${files.conf}`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ).toBe('');
  });

  it('refuses a value that would start another option', () => {
    const def =
      NetworkDef.fromXML(`<network><name>x</name><bridge name='vk-qnet5'/><ip address='10.213.21.1' prefix='24'><dhcp>
      <host mac='52:54:00:71:00:06' name='a,b' ip='10.213.21.5'/></dhcp></ip></network>`);
    let err: unknown;
    try {
      dnsmasqConfig(def, 'vk-qnet5', dnsmasqFiles(dir, 'x'), 24);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VirError);
    expect(err).toMatchObject({ code: 'XML_DETAIL', field: '/network/ip[1]/dhcp/host[1]/@name' });
  });

  it("parses dnsmasq's lease file: expiry, MAC, address, name, client id", () => {
    const text =
      '1796220000 52:54:00:71:00:09 10.213.20.12 vkguest 01:52:54:00:71:00:09\n0 52:54:00:71:00:0a 10.213.20.13 * *\nduid 00:01:00:01\n';
    expect(parseLeases(text, 'vk-qnet5', 24)).toEqual([
      {
        iface: 'vk-qnet5',
        expiryTime: 1796220000,
        type: 'ipv4',
        mac: '52:54:00:71:00:09',
        ipaddr: '10.213.20.12',
        prefix: 24,
        hostname: 'vkguest',
        clientId: '01:52:54:00:71:00:09',
      },
      {
        iface: 'vk-qnet5',
        expiryTime: 0,
        type: 'ipv4',
        mac: '52:54:00:71:00:0a',
        ipaddr: '10.213.20.13',
        prefix: 24,
      },
    ]);
  });

  it.skipIf(!NFT || process.getuid?.() !== 0)('writes nftables rules nft accepts, for each mode', () => {
    for (const mode of ['nat', 'route', 'none'] as const) {
      const script = rulesScript({ mode, bridge: 'vk-qnet5', subnet: '10.213.20.0/24' });
      execFileSync(NFT as string, ['--check', '-f', '-'], { input: script });
      expect(script.includes('masquerade')).toBe(mode === 'nat');
    }
  });
});

function countBits(m: number): number {
  let n = 0;
  for (let v = m >>> 0; v; v = (v << 1) >>> 0) n++;
  return n;
}

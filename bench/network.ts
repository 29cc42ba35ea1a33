/**
 * qemu:///system virtual networks on the real host (root): start + stop of
 * a NAT network (bridge, address, nftables table when nft is there,
 * dnsmasq) and of a `forward mode='bridge'` network on an existing bridge.
 * The bridge network is measured beside libvirt's network driver on a
 * private libvirtd (network:///session, through python3-libvirt); that
 * daemon runs as nobody, so it cannot make bridges and the NAT row has no
 * peer. Run alone with `npm run bench -- --only network`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/connection.js';
import { LIBVIRTD, startLibvirtd } from '../test/drivers/remote/libvirtd.js';
import { type BenchRow, hasPythonLibvirt, measure, pythonMedianUs, row } from './harness.js';

const IP = ['/usr/sbin/ip', '/sbin/ip'].find((p) => existsSync(p));
const NFT = ['/usr/sbin/nft', '/sbin/nft'].find((p) => existsSync(p));
const HOST_BR = 'vk-qnetb1';

export async function run(): Promise<BenchRow[]> {
  if (process.getuid?.() !== 0 || !IP)
    return [{ name: 'network start/stop', virtkitUs: 0, note: 'needs root and the ip command' }];
  const base = mkdtempSync(join(tmpdir(), 'vk-bench-qnet-'));
  execFileSync('chmod', ['0777', base]);
  execFileSync(IP, ['link', 'add', HOST_BR, 'type', 'bridge']);
  const daemon = LIBVIRTD && hasPythonLibvirt() ? await startLibvirtd() : undefined;
  const uri = daemon ? `network+unix:///session?socket=${daemon.socket}` : undefined;
  const conn = await connect('qemu:///system', {
    driverOptions: {
      cacheDir: null,
      configDir: join(base, 'config'),
      stateDir: join(base, 'state'),
      runDir: join(base, 'run'),
      logDir: join(base, 'log'),
    },
  });
  const rows: BenchRow[] = [];
  try {
    const nat =
      await conn.networks.define(`<network><name>bench-nat</name>${NFT ? "<forward mode='nat'/>" : ''}
      <bridge name='vk-qnetb0'/><ip address='10.213.30.1' prefix='24'><dhcp><range start='10.213.30.10' end='10.213.30.99'/></dhcp></ip></network>`);
    const natUs = await measure(
      async () => {
        await nat.start();
        await nat.destroy();
      },
      { warmup: 2, iterations: 20, minTimeMs: 0 },
    );
    const r = row(
      `${NFT ? 'NAT' : 'isolated'} network start + stop (bridge, address, ${NFT ? 'nft, ' : ''}dnsmasq)`,
      natUs,
      {
        name: 'libvirt',
        us: undefined,
      },
    );
    r.note = 'no peer: the private libvirtd runs as nobody and cannot make bridges';
    rows.push(r);
    await nat.undefine();

    const XML = `<network><name>bench-br</name><forward mode='bridge'/><bridge name='${HOST_BR}'/></network>`;
    const br = await conn.networks.define(XML);
    const brUs = await measure(
      async () => {
        await br.start();
        await br.destroy();
      },
      { warmup: 5, iterations: 200 },
    );
    const theirs = uri
      ? pythonMedianUs(
          `conn = libvirt.open(${JSON.stringify(uri)})\nn = conn.networkDefineXML(${JSON.stringify(XML)})`,
          'n.create()\nn.destroy()',
          200,
        )
      : undefined;
    const b = row("forward mode='bridge' network start + stop", brUs, {
      name: 'libvirt (libvirtd network)',
      us: theirs,
    });
    b.note = uri
      ? 'virtkit answers in process; libvirt through its daemon (RPC)'
      : 'libvirtd or python3-libvirt not installed: no peer';
    rows.push(b);
    await br.undefine();
  } finally {
    await conn.close();
    await daemon?.stop();
    execFileSync(IP, ['link', 'del', HOST_BR]);
    rmSync(base, { recursive: true, force: true });
  }
  return rows;
}

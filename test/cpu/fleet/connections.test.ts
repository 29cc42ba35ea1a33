/**
 * Fleet planning over live connections, and `virtkit fleet-plan`: a real
 * libvirtd's QEMU driver (over the remote driver) and our own qemu:///
 * session as two hosts of the same machine, a host that is not there and
 * one that accepts the connection but never answers (the per-host timeout):
 * the plan covers the hosts that answered and names the others.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { DomainCapabilities } from '../../../src/conf/domaincaps.js';
import { type Connection, connect } from '../../../src/connection.js';
import { planFleetFromConnections } from '../../../src/fleet.js';
import { type Daemon, LIBVIRTD, PYTHON_LIBVIRT, startLibvirtd } from '../../drivers/remote/libvirtd.js';

const QEMU_BINARY = '/usr/bin/qemu-system-x86_64';
const ready = Boolean(LIBVIRTD && PYTHON_LIBVIRT);

const GUESTS = `<cpu mode='custom' match='exact'><model>qemu64</model></cpu>
<cpu mode='custom' match='exact'><model>qemu64</model><feature policy='require' name='avx512f'/></cpu>
<domain type='qemu'><name>web</name><memory>1024</memory><os><type arch='x86_64'>hvm</type></os><cpu mode='host-model'/></domain>`;

describe.skipIf(!ready)('planFleetFromConnections and virtkit fleet-plan', () => {
  let daemon: Daemon;
  let dir: string;
  let hang: Server;
  const held: Socket[] = [];
  let ours: Connection;
  let remoteUri: string;
  let hangUri: string;
  let missingUri: string;

  beforeAll(async () => {
    daemon = await startLibvirtd();
    remoteUri = `qemu+unix:///session?socket=${daemon.socket}`;
    dir = mkdtempSync(join(tmpdir(), 'vk-fleet-'));
    hangUri = `qemu+unix:///session?socket=${join(dir, 'hang.sock')}`;
    missingUri = `qemu+unix:///session?socket=${join(dir, 'missing.sock')}`;
    // accepts, then says nothing: only the per-host timeout ends the wait
    hang = createServer((s) => held.push(s));
    await new Promise<void>((r) => hang.listen(join(dir, 'hang.sock'), r));
    writeFileSync(join(dir, 'guests.xml'), GUESTS);
    // the daemon probes QEMU on first use: that happens here, not within a host's timeout
    const warm = await connect(remoteUri);
    await warm.getCapabilities();
    await warm.getDomainCapabilities({ arch: 'x86_64' });
    await warm.close();
    ours = await connect('qemu:///session', {
      driverOptions: {
        cacheDir: join(dir, 'cache'),
        runDir: join(dir, 'run'),
        stateDir: join(dir, 'state'),
        configDir: join(dir, 'config'),
        logDir: join(dir, 'log'),
        emulators: [QEMU_BINARY],
      },
    });
  }, 120_000);

  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise((r) => hang?.close(r));
    await ours?.close();
    await daemon?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('plans over the hosts that answer and names the others', async () => {
    const t0 = Date.now();
    const r = await planFleetFromConnections({
      hosts: [
        { name: 'libvirtd', uri: remoteUri },
        { name: 'virtkit', connection: ours },
        missingUri,
        hangUri,
      ],
      guests: GUESTS.split('\n'),
      timeoutMs: 3000,
    });
    // concurrent: the slow host costs one timeout, not the sum
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(
      r.plan.hosts.map((h) => h.name),
      JSON.stringify(r.unreachable),
    ).toEqual(['libvirtd', 'virtkit']);
    expect(r.unreachable.map((u) => [u.name, u.code])).toEqual([
      [missingUri, expect.any(String)],
      [hangUri, 'OPERATION_TIMEOUT'],
    ]);
    // both hosts are this machine with the same QEMU, but the daemon (as nobody) has no KVM:
    // each host-model CPU is the one its own domain capabilities report
    const [a, b] = r.plan.hosts;
    const own = DomainCapabilities.fromXML(await ours.getDomainCapabilities({ arch: 'x86_64' }));
    expect(b?.hostModel).toBe(own.cpuMode('host-model')?.models?.[0]?.name);
    const theirs = await connect(remoteUri);
    const remote = DomainCapabilities.fromXML(await theirs.getDomainCapabilities({ arch: 'x86_64' }));
    expect(a?.hostModel).toBe(remote.cpuMode('host-model')?.models?.[0]?.name);
    // a custom guest starts where the host's own hypervisor CPU comparison accepts it
    // (libvirt's answer for the daemon, ours for virtkit)
    const [plain, avx512, web] = r.plan.guests;
    for (const [gi, g] of [plain, avx512].entries()) {
      const xml = GUESTS.split('\n')[gi] as string;
      const answers = [
        await theirs.compareHypervisorCpu(xml, { arch: 'x86_64' }),
        await ours.compareHypervisorCpu(xml, { arch: 'x86_64' }),
      ];
      expect(
        g?.cells.map((c) => c.canStart.ok),
        `${xml}: ${answers}`,
      ).toEqual(answers.map((x) => x !== 'incompatible'));
    }
    await theirs.close();
    expect(web?.name).toBe('web');
    expect(web?.cells.map((c) => c.canStart.ok)).toEqual([true, true]);
    expect(web?.source).toBe('libvirtd');
    expect(web?.cells[0]?.canReceiveMigration.ok).toBe(true);
    // a live connection passed in stays open
    expect((await ours.getCapabilities()).host.cpu.arch).toBe('x86_64');
  }, 60_000);

  it('virtkit fleet-plan prints the matrix and the unreachable host, --json the plan', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const rc = await main(
      [
        'fleet-plan',
        '-c',
        remoteUri,
        '-c',
        missingUri,
        '--guest',
        join(dir, 'guests.xml'),
        '--timeout',
        '5000',
      ],
      (l) => out.push(l),
      (l) => err.push(l),
    );
    const text = out.join('\n');
    // a host missing makes the command fail after printing the plan of the others
    expect(rc).toBe(1);
    expect(text).toMatch(/\[1\] qemu\+unix/);
    expect(text).toMatch(/unreachable: qemu\+unix:\/\/\/session\?socket=.*missing\.sock/);
    expect(text).toMatch(/^guest1 +SM/m);
    expect(text).toMatch(/^web +SM/m);
    expect(text).toMatch(/^guest2 +(SM|--)/m);
    expect(text).toMatch(/Groups:\n {2}x86_64\/\w+ \(qemu\+unix.*\): baseline \S+/);

    const json: string[] = [];
    await main(['fleet-plan', '-c', remoteUri, '--guest', join(dir, 'guests.xml'), '--json'], (l) =>
      json.push(l),
    );
    const parsed = JSON.parse(json.join('\n'));
    expect(parsed.unreachable).toEqual([]);
    expect(parsed.plan.guests).toHaveLength(3);
    expect(parsed.plan.guests[0].cells[0].canStart).toEqual({ ok: true, blockers: [] });
    expect(parsed.plan.groups[0].baseline.model.name).toEqual(expect.any(String));
  }, 60_000);

  it('fleet-plan without a host is a usage error', async () => {
    const err: string[] = [];
    expect(
      await main(
        ['fleet-plan'],
        () => undefined,
        (l) => err.push(l),
      ),
    ).toBe(1);
    expect(err.join()).toMatch(/at least one host/);
  });
});

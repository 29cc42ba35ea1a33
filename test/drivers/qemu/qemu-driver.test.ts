import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DomainCapabilities } from '../../../src/conf/domaincaps.js';
import { connect } from '../../../src/connection.js';
import { resolveQemuPaths } from '../../../src/drivers/qemu/paths.js';
import { kvmUsable } from '../../../src/drivers/qemu/probe/probe.js';
import { validate } from '../../../src/xml/validate.js';
import { childPids, HAS_QEMU, QEMU_BINARY, QEMU_NOTE, tempDir } from './helpers.js';

const childrenBefore = new Set(childPids());
const IS_ROOT = process.getuid?.() === 0;
const REPO = join(import.meta.dirname, '../../..');
/** Whether this checkout can be run as `nobody` (setpriv present, files world-readable). */
const AS_NOBODY = (() => {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', '-e', '0'],
      { stdio: 'ignore', cwd: REPO, env: { ...process.env, HOME: '/tmp' } },
    );
    return true;
  } catch {
    return false;
  }
})();
afterAll(() => {
  // every QEMU (and fake QEMU) a test started has been reaped
  expect(childPids().filter((p) => !childrenBefore.has(p))).toEqual([]);
});

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.remove());

function roots() {
  return {
    cacheDir: join(dir.path, 'cache'),
    runDir: join(dir.path, 'run'),
    stateDir: join(dir.path, 'state'),
    configDir: join(dir.path, 'config'),
    logDir: join(dir.path, 'log'),
  };
}

/** `-machine help`: name -> the machine it is an alias of (or itself), and the default. */
function machineHelp(): { aliases: Map<string, string>; defaultMachine: string } {
  const text = execFileSync(QEMU_BINARY, ['-machine', 'help'], { encoding: 'utf8' });
  const aliases = new Map<string, string>();
  let defaultMachine = '';
  for (const line of text.split('\n').slice(1)) {
    const name = line.trim().split(/\s+/)[0];
    if (!name) continue;
    const alias = /\(alias of ([^)]+)\)/.exec(line);
    aliases.set(name, alias?.[1] ?? name);
    if (line.includes('(default)')) defaultMachine = alias?.[1] ?? name;
  }
  return { aliases, defaultMachine };
}

describe.skipIf(!HAS_QEMU)(`qemu:/// driver capabilities${QEMU_NOTE}`, () => {
  it('qemu:///session: a guest per emulator with its machines and domain types, valid against our schema', async () => {
    const conn = await connect('qemu:///session', {
      driverOptions: { ...roots(), emulators: [QEMU_BINARY] },
    });
    try {
      expect(conn.type).toBe('QEMU');
      const caps = await conn.getCapabilities();
      const guest = caps.findGuests({ arch: 'x86_64' })[0];
      expect(guest?.osType).toBe('hvm');
      expect(guest?.arch.emulator).toBe(QEMU_BINARY);
      expect(guest?.arch.wordsize).toBe(64);
      const types = guest?.arch.domains?.map((d) => d.type);
      expect(types).toEqual((await kvmUsable()) ? ['qemu', 'kvm'] : ['qemu']);
      const { aliases, defaultMachine } = machineHelp();
      const machines = guest?.arch.machines ?? [];
      // the first machine is QEMU's default, and every alias points where `-machine help` says
      expect(machines[0]?.name).toBe(defaultMachine);
      for (const m of machines) expect(aliases.get(m.name), m.name).toBe(m.canonical ?? m.name);
      expect(machines.length).toBe([...aliases.keys()].filter((n) => n !== 'none').length);
      const xml = caps.toXML();
      const v = await validate(xml, 'capability');
      expect(v.errors).toEqual([]);
      // the probe went to the cache directory we gave, not the user's
      expect(readdirSync(join(dir.path, 'cache')).filter((f) => f.endsWith('.json'))).toHaveLength(1);
      expect(await conn.getVersion()).toBeGreaterThan(2_000_000);
      const info = await conn.getNodeInfo();
      expect(info.model).toBe('x86_64');
      expect(info.cpus).toBe(Number(execFileSync('nproc', ['--all'], { encoding: 'utf8' }).trim()));
      expect(info.nodes * info.sockets * info.cores * info.threads).toBe(info.cpus);
      const memKiB = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
      expect(info.memory).toBe(memKiB);
    } finally {
      await conn.close();
    }
  });

  it.skipIf(!AS_NOBODY)(
    `refuses qemu:///system to a user that is not root (run as nobody)${AS_NOBODY ? '' : ' (skipped: cannot run this checkout as nobody)'}`,
    () => {
      const script = `import('${join(REPO, 'src/index.ts')}').then((v) => v.connect('qemu:///system')).then(
      () => console.log('opened'),
      (e) => console.log(e.code + ' ' + e.domain),
    );`;
      const out = execFileSync(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          process.execPath,
          '--import',
          'tsx',
          '-e',
          script,
        ],
        { encoding: 'utf8', cwd: REPO, env: { ...process.env, HOME: dir.path } },
      );
      expect(out.trim()).toBe('OPERATION_DENIED qemu');
    },
  );

  it.skipIf(!IS_ROOT)(
    'qemu:///system with moved roots answers a second connection from the disk cache',
    async () => {
      const a = await connect('qemu:///system', {
        driverOptions: { ...roots(), emulators: [QEMU_BINARY], kvm: false },
      });
      const capsA = await a.getCapabilities();
      await a.close();
      expect(capsA.guests?.[0]?.arch.domains?.map((d) => d.type)).toEqual(['qemu']);
      const b = await connect('qemu:///system', {
        driverOptions: { ...roots(), emulators: [QEMU_BINARY], kvm: false },
      });
      const capsB = await b.getCapabilities();
      await b.close();
      expect(capsB.toXML()).toBe(capsA.toXML());
      expect(existsSync(join(dir.path, 'run'))).toBe(true);
      expect(readdirSync(join(dir.path, 'run'))).toEqual([]); // probe sockets are gone
    },
  );

  it('domain capabilities for the default machine, q35 and TCG', async () => {
    const conn = await connect('qemu:///session', {
      driverOptions: { ...roots(), emulators: [QEMU_BINARY] },
    });
    try {
      const { aliases, defaultMachine } = machineHelp();
      const kvm = await kvmUsable();
      const dflt = DomainCapabilities.fromXML(await conn.getDomainCapabilities());
      expect(dflt.path).toBe(QEMU_BINARY);
      expect(dflt.machine).toBe(defaultMachine);
      expect(dflt.domain).toBe(kvm ? 'kvm' : 'qemu');
      expect(dflt.cpuMode('host-passthrough')?.supported).toBe(kvm);

      const q35Xml = await conn.getDomainCapabilities({ machine: 'q35', virttype: 'qemu', arch: 'x86_64' });
      expect((await validate(q35Xml, 'domaincaps')).errors).toEqual([]);
      const q35 = DomainCapabilities.fromXML(q35Xml);
      expect(q35.machine).toBe(aliases.get('q35'));
      expect(q35.domain).toBe('qemu');
      expect(q35.cpuMode('host-passthrough')?.supported).toBe(false);
      // q35 has AHCI, no IDE; i440fx the other way round
      expect(q35.deviceEnum('disk', 'bus')).toContain('sata');
      expect(q35.deviceEnum('disk', 'bus')).not.toContain('ide');
      const pc = DomainCapabilities.fromXML(
        await conn.getDomainCapabilities({ machine: 'pc', virttype: 'qemu' }),
      );
      expect(pc.deviceEnum('disk', 'bus')).toContain('ide');
      // every CPU model QEMU lists with `-cpu help` (but host/max/base) is offered as custom
      const cpuHelp = execFileSync(QEMU_BINARY, ['-cpu', 'help'], { encoding: 'utf8' });
      const custom = new Set(q35.cpuMode('custom')?.models?.map((m) => m.name));
      for (const m of ['qemu64', 'Nehalem', 'EPYC']) {
        if (new RegExp(`\\b${m}\\b`).test(cpuHelp)) expect(custom.has(m), m).toBe(true);
      }
      expect(custom.has('host')).toBe(false);
      // the CPU engine's database names vendors and resolves host-model from QEMU's `max` expansion
      const models = q35.cpuMode('custom')?.models ?? [];
      expect(models.find((m) => m.name === 'EPYC')?.vendor).toBe('AMD');
      expect(models.find((m) => m.name === 'qemu64')?.vendor).toBe('unknown');
      const hostModel = q35.cpuMode('host-model');
      expect(hostModel?.supported).toBe(true);
      expect(custom.has(hostModel?.models?.[0]?.name ?? '?')).toBe(true);
      // an answer for the same query is the same document
      expect(await conn.getDomainCapabilities({ machine: 'q35', virttype: 'qemu', arch: 'x86_64' })).toBe(
        q35Xml,
      );
    } finally {
      await conn.close();
    }
  });

  it('rejects bad queries with typed errors', async () => {
    const conn = await connect('qemu:///session', {
      driverOptions: { ...roots(), emulators: [QEMU_BINARY], kvm: false },
    });
    try {
      await expect(conn.getDomainCapabilities({ machine: 'no-such-machine' })).rejects.toMatchObject({
        code: 'INVALID_ARG',
        field: 'machine',
      });
      await expect(conn.getDomainCapabilities({ virttype: 'xen' })).rejects.toMatchObject({
        code: 'INVALID_ARG',
      });
      await expect(conn.getDomainCapabilities({ virttype: 'kvm' })).rejects.toMatchObject({
        code: 'CONFIG_UNSUPPORTED',
      });
      await expect(conn.getDomainCapabilities({ arch: 'aarch64' })).rejects.toMatchObject({
        code: 'NO_SUPPORT',
      });
      await expect(
        conn.getDomainCapabilities({ emulator: QEMU_BINARY, arch: 'aarch64' }),
      ).rejects.toMatchObject({ code: 'INVALID_ARG', field: 'arch' });
      await expect(conn.getDomainCapabilities({ emulator: 'qemu-system-x86_64' })).rejects.toMatchObject({
        code: 'INVALID_ARG',
      });
      await expect(conn.getDomainCapabilities({ emulator: join(dir.path, 'nope') })).rejects.toMatchObject({
        code: 'NO_SUPPORT',
      });
      await expect(conn.lookupDomain('anything')).rejects.toMatchObject({ code: 'NO_DOMAIN' });
      expect(await conn.listDomains()).toEqual([]);
    } finally {
      await conn.close();
    }
  });

  it('a named emulator that is not QEMU fails the call', async () => {
    const conn = await connect('qemu:///session', {
      driverOptions: { ...roots(), emulators: ['/bin/true'] },
    });
    try {
      await expect(conn.getCapabilities()).rejects.toMatchObject({ code: 'OPERATION_FAILED' });
    } finally {
      await conn.close();
    }
  });
});

describe('qemu:/// URIs and roots', () => {
  it('only /system and /session', async () => {
    await expect(connect('qemu:///default')).rejects.toMatchObject({ code: 'NO_CONNECT' });
  });

  it('rejects relative roots and bad emulator lists', async () => {
    await expect(
      connect('qemu:///session', { driverOptions: { cacheDir: 'relative' } }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'cacheDir',
    });
    // @ts-expect-error: the run-time check behind the type, for callers without types
    await expect(connect('qemu:///session', { driverOptions: { emulators: 'x' } })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'emulators',
    });
  });

  it('session roots follow XDG, system roots are fixed, env and options move them', () => {
    const env = { HOME: '/home/u', XDG_CACHE_HOME: '/xdg/cache', XDG_RUNTIME_DIR: '/run/user/1000' };
    const s = resolveQemuPaths('session', {}, env);
    expect(s.cacheDir).toBe('/xdg/cache/virtkit/qemu');
    expect(s.configDir).toBe('/home/u/.config/virtkit/qemu');
    expect(s.stateDir).toBe('/home/u/.local/state/virtkit/qemu');
    expect(s.runDir).toBe('/run/user/1000/virtkit/qemu');
    const sys = resolveQemuPaths('system', {}, {});
    expect(sys.cacheDir).toBe('/var/cache/virtkit/qemu');
    expect(sys.stateDir).toBe('/var/lib/virtkit/qemu');
    expect(resolveQemuPaths('system', {}, { VIRTKIT_QEMU_CACHE_DIR: '/tmp/c' }).cacheDir).toBe('/tmp/c');
    expect(
      resolveQemuPaths('system', { cacheDir: '/opt/c' }, { VIRTKIT_QEMU_CACHE_DIR: '/tmp/c' }).cacheDir,
    ).toBe('/opt/c');
    expect(resolveQemuPaths('session', { cacheDir: null }, env).cacheDir).toBeNull();
    expect(() => resolveQemuPaths('system', {}, { VIRTKIT_QEMU_RUN_DIR: 'rel' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARG' }),
    );
  });
});

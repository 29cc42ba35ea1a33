/**
 * A host whose controllers are on cgroup v2 only: the driver places guests
 * in v1 hierarchies, so such a host is refused by name (OPERATION_UNSUPPORTED
 * naming the controller and the mount), not answered as one without
 * controllers and not skipped. The v2 roots here are real directories with
 * the `cgroup.controllers` file a v2 root has, named by a mount table as
 * `/proc/self/mounts` writes it (the host's own cgroups are not touched).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { refuseHostSideSettings } from '../../../src/drivers/qemu/domains/host-side-settings.js';
import { cgroupV2Controllers, cgroupV2Refusal } from '../../../src/drivers/qemu/lifecycle/cgroup-v2.js';

const dir = mkdtempSync(join(tmpdir(), 'vk-cg2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mountTable(controllers: string, name = 'unified'): string {
  const root = join(dir, name);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root);
  writeFileSync(join(root, 'cgroup.controllers'), `${controllers}\n`);
  return `proc /proc proc rw 0 0\ncgroup2 ${root} cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n`;
}

describe('cgroup v2 hosts', () => {
  it('finds the controllers a v2 root offers, and none on an empty unified hierarchy', () => {
    const v2 = cgroupV2Controllers(mountTable('cpuset cpu io memory pids'));
    expect([...v2.keys()]).toEqual(['cpuset', 'cpu', 'io', 'memory', 'pids']);
    // a hybrid host's unified mount, as this driver's v1 hosts have it
    expect(cgroupV2Controllers(mountTable('', 'hybrid')).size).toBe(0);
  });

  it('refuses each controller only v2 has, by its v2 name and the mount', () => {
    const v2 = cgroupV2Controllers(mountTable('cpu io memory'));
    const e = cgroupV2Refusal('blkio', v2);
    expect(e).toMatchObject({ code: 'OPERATION_UNSUPPORTED' });
    expect(e?.message).toContain("'io'");
    expect(e?.message).toContain(join(dir, 'unified'));
    expect(cgroupV2Refusal('cpu', v2)?.code).toBe('OPERATION_UNSUPPORTED');
    expect(cgroupV2Refusal('memory', cgroupV2Controllers(mountTable('cpu')))).toBeUndefined();
  });

  it('refuses a start with cgroup tunables on such a host, naming the element and cgroup v2', () => {
    const def = DomainDef.fromXML(`<domain type='qemu'><name>t</name><memory unit='MiB'>32</memory>
      <blkiotune><weight>500</weight></blkiotune><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>`);
    const refusal = cgroupV2Refusal('blkio', cgroupV2Controllers(mountTable('io'))) as NonNullable<
      ReturnType<typeof cgroupV2Refusal>
    >;
    expect(() => refuseHostSideSettings(def, { v2: { '/domain/blkiotune': refusal } })).toThrow(
      expect.objectContaining({
        code: 'OPERATION_UNSUPPORTED',
        field: '/domain/blkiotune',
        message: expect.stringContaining('cgroup v2'),
      }),
    );
    // without v2 either: the refusal it always was
    expect(() => refuseHostSideSettings(def, {})).toThrow(
      expect.objectContaining({ code: 'CONFIG_UNSUPPORTED' }),
    );
  });
});

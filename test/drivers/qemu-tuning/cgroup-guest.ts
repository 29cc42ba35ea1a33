/**
 * What the cgroup tests of the QEMU driver (blkio-qemu, sched-memory-qemu,
 * vcpu-cgroups-qemu) share: the guest they tune, and where the kernel says
 * a process or thread of it is placed in a cgroup v1 controller. The tests
 * read the group's files back, so they must find the group the way the
 * kernel reports it, not the way the driver meant to make it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QEMU_BINARY } from '../qemu-lifecycle/helpers.js';

/**
 * A process's or thread's group directory in a v1 controller (`procPath`:
 * `/proc/<pid>` or `/proc/<pid>/task/<tid>`), from the kernel's `cgroup`
 * file there and the controller's mount in `/proc/self/mounts`.
 */
export function v1Group(procPath: string, controller: 'blkio' | 'cpu' | 'memory'): string {
  const line = readFileSync(join(procPath, 'cgroup'), 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => (f[1] ?? '').split(',').includes(controller));
  const mount = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[2] === 'cgroup' && (f[3] ?? '').split(',').includes(controller));
  if (!line || !mount?.[1]) throw new Error(`no ${controller} cgroup for ${procPath}`);
  return join(mount[1], line.slice(2).join(':'));
}

/**
 * A diskless SeaBIOS guest named `name` with `vcpus` vCPUs and the tuning
 * elements `tunes`: nothing in it needs more of the host than QEMU, so a
 * start fails only for what the tunes ask.
 */
export function tunedGuestXml(name: string, vcpus: number, tunes = ''): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>32</memory>
  ${tunes}
  <vcpu>${vcpus}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator></devices>
</domain>`;
}

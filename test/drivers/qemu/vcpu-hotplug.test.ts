import { describe, expect, it } from 'vitest';
import {
  type HotpluggableCpu,
  vcpuHotplugCommands,
} from '../../../src/drivers/qemu/lifecycle/vcpu-hotplug.js';

// The shape QEMU's query-hotpluggable-cpus reports for -smp 1,maxcpus=6,sockets=3,cores=2
// (newest socket first, as QEMU lists them); only vCPU 0 is present.
const slots: HotpluggableCpu[] = [];
for (let socket = 2; socket >= 0; socket--)
  for (let core = 1; core >= 0; core--)
    slots.push({
      type: 'qemu64-x86_64-cpu',
      'vcpus-count': 1,
      props: { 'socket-id': socket, 'die-id': 0, 'cluster-id': 0, 'core-id': core, 'thread-id': 0 },
      ...(socket === 0 && core === 0 ? { 'qom-path': '/machine/unattached/device[0]' } : {}),
    });

describe('vCPU hot-plug at start', () => {
  it('maps vCPU ids to slots in topology order', () => {
    expect(vcpuHotplugCommands(slots, [4, 5])).toEqual([
      {
        driver: 'qemu64-x86_64-cpu',
        id: 'vcpu4',
        'socket-id': 2,
        'die-id': 0,
        'cluster-id': 0,
        'core-id': 0,
        'thread-id': 0,
      },
      {
        driver: 'qemu64-x86_64-cpu',
        id: 'vcpu5',
        'socket-id': 2,
        'die-id': 0,
        'cluster-id': 0,
        'core-id': 1,
        'thread-id': 0,
      },
    ]);
  });

  it('refuses a vCPU QEMU has no free slot for', () => {
    expect(() => vcpuHotplugCommands(slots, [6])).toThrow(/no hot-pluggable slot/);
    expect(() => vcpuHotplugCommands(slots, [0])).toThrow(/already present/);
  });
});

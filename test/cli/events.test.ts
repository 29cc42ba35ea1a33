import { describe, expect, it } from 'vitest';
import { Session } from '../../src/cli/session.js';
import { fixture } from '../shared-data.js';

describe('virtkit event', () => {
  it('prints lifecycle events in virsh words while another command changes the domain', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const session = new Session({
      uri: 'test:///default',
      readonly: false,
      quiet: true,
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    try {
      await session.run([['define', fixture('virsh/vm1.xml')]]);
      const waiting = session.run([
        ['event', '--event', 'lifecycle', '--domain', 'vm1', '--loop', '--timeout', '1'],
      ]);
      await new Promise((r) => setTimeout(r, 50));
      await session.run([
        ['start', 'vm1'],
        ['suspend', 'vm1'],
        ['destroy', 'vm1'],
      ]);
      expect((await waiting).ok).toBe(true);
    } finally {
      await session.close();
    }
    expect(err).toEqual([]);
    expect(out).toEqual([
      "event 'lifecycle' for domain 'vm1': Started Booted",
      "event 'lifecycle' for domain 'vm1': Suspended Paused",
      "event 'lifecycle' for domain 'vm1': Stopped Destroyed",
      'event loop timed out',
      'events received: 3',
    ]);
  });
});

/**
 * The rules of `domains/channel-sockets.ts` on definitions alone, for what
 * the real-QEMU runs (`qemu-save/channel-sockets.test.ts`) do not reach:
 * paths a user chose are never taken for made-up ones, and a port event
 * for a device that is not a virtio channel changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import {
  applyChannelStates,
  channelPortChanged,
  forgetChannelSockets,
  placeChannelSockets,
} from '../../../src/drivers/qemu/domains/channel-sockets.js';

const RUN = '/state/qemu/domain-3-g';

const def = (channels: string) =>
  DomainDef.fromXML(
    `<domain type='qemu'><name>g</name><memory>1024</memory><os><type>hvm</type></os><devices>${channels}</devices></domain>`,
  );
const paths = (d: DomainDef) => (d.devices?.channels ?? []).map((c) => c.sources?.[0]?.path);

describe('channel sockets of a live definition', () => {
  it('only unix virtio channels without a path get one; a chosen path and other types stay', () => {
    const d = def(`
      <channel type='unix'><target type='virtio' name='a.0'/></channel>
      <channel type='unix'><source mode='bind' path='/srv/mine.sock'/><target type='virtio' name='b.0'/></channel>
      <channel type='pty'><target type='virtio' name='c.0'/></channel>
      <channel type='unix'><source mode='connect' path='/srv/fwd.sock'/><target type='guestfwd' address='10.0.2.1' port='4600'/></channel>`);
    placeChannelSockets(d, RUN);
    expect(paths(d)).toEqual([`${RUN}/a.0`, '/srv/mine.sock', undefined, '/srv/fwd.sock']);
    expect(d.devices?.channels?.[0]?.sources?.[0]?.mode).toBe('bind');
  });

  it('the migratable copy takes back only what this run made up, and every port state', () => {
    const d = def(`
      <channel type='unix'><source mode='bind' path='${RUN}/a.0'/><target type='virtio' name='a.0' state='connected'/></channel>
      <channel type='unix'><source mode='bind' path='${RUN}/other.sock'/><target type='virtio' name='b.0' state='disconnected'/></channel>
      <channel type='unix'><source mode='bind' path='/state/qemu/domain-2-g/c.0'/><target type='virtio' name='c.0'/></channel>`);
    forgetChannelSockets(d, RUN);
    // a path in the run directory not named after the target, or another run's, is the user's
    expect(paths(d)).toEqual([undefined, `${RUN}/other.sock`, '/state/qemu/domain-2-g/c.0']);
    expect((d.devices?.channels ?? []).map((c) => c.target?.state)).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("QEMU's frontend-open gives each virtio channel its state, by the chardev's label", () => {
    const d = def(`
      <channel type='unix'><target type='virtio' name='a.0'/></channel>
      <channel type='pty'><target type='virtio' name='b.0'/></channel>
      <channel type='unix'><target type='virtio' name='c.0'/></channel>`);
    applyChannelStates(d, [
      { label: 'charchannel0', filename: 'unix:x', 'frontend-open': true },
      { label: 'charchannel1', filename: 'pty:/dev/pts/9', 'frontend-open': false },
      // a QEMU that does not say leaves the state unknown (libvirt writes none then)
      { label: 'charchannel2', filename: 'unix:y' },
    ]);
    expect((d.devices?.channels ?? []).map((c) => c.target?.state)).toEqual([
      'connected',
      'disconnected',
      undefined,
    ]);
  });

  it('a port event changes the state of its virtio channel only, and says whether it changed', () => {
    const d = def(`
      <channel type='unix'><target type='virtio' name='a.0' state='disconnected'/></channel>
      <channel type='unix'><source mode='connect' path='/srv/fwd.sock'/><target type='guestfwd' address='10.0.2.1' port='4600'/></channel>`);
    expect(channelPortChanged(d, 'channel0', true)).toBe(true);
    expect(d.devices?.channels?.[0]?.target?.state).toBe('connected');
    expect(channelPortChanged(d, 'channel0', true)).toBe(false);
    expect(channelPortChanged(d, 'channel1', true)).toBe(false);
    expect(d.devices?.channels?.[1]?.target?.state).toBeUndefined();
    expect(channelPortChanged(d, 'channel7', false)).toBe(false);
    expect(channelPortChanged(undefined, 'channel0', false)).toBe(false);
  });
});

/**
 * The remote driver's block I/O parameter calls against a private libvirtd
 * (its test:///default driver): the weight sent as an unsigned int and the
 * per-device lists as strings, what we set python3-libvirt reads back from
 * the same daemon and the other way round, the daemon's refusals with
 * libvirt's codes.
 */
import { describe, expect, it } from 'vitest';
import { daemonPeer, PEER_NOTE } from './daemon-peer.js';
import { LIBVIRTD, PYTHON_LIBVIRT } from './libvirtd.js';

const peer = daemonPeer({ needPython: true });
const python = (code: string) => peer.python(code);
const NOTE = PEER_NOTE;

describe.skipIf(!LIBVIRTD || !PYTHON_LIBVIRT)(`remote block I/O parameters${NOTE}`, () => {
  it('reads what python3-libvirt set, and python3-libvirt reads what we set', async () => {
    const dom = await peer.conn.lookupDomain('test');
    const theirs = python(`import json, sys, libvirt
c = libvirt.open(sys.argv[1]); d = c.lookupByName('test')
before = d.blkioParameters(0)
d.setBlkioParameters({'weight': 400, 'device_read_iops_sec': '/dev/sda,100,/dev/sdb,200'}, 0)
print(json.dumps([before, d.blkioParameters(0)]))`) as unknown[];
    expect(theirs[0]).toEqual({
      weight: 0,
      device_weight: '',
      device_read_iops_sec: '',
      device_write_iops_sec: '',
      device_read_bytes_sec: '',
      device_write_bytes_sec: '',
    });
    expect(await dom.getBlkioParameters()).toEqual(theirs[1]);
    await dom.setBlkioParameters({ weight: 600, device_write_bytes_sec: '/dev/sdb,1048576' }, { live: true });
    await dom.setBlkioParameters({ device_weight: '/dev/vda,300' }, { config: true });
    const after = python(`import json, sys, libvirt
c = libvirt.open(sys.argv[1]); d = c.lookupByName('test')
print(json.dumps([d.blkioParameters(libvirt.VIR_DOMAIN_AFFECT_LIVE), d.blkioParameters(libvirt.VIR_DOMAIN_AFFECT_CONFIG)]))`);
    expect(after).toEqual([
      {
        weight: 600,
        device_weight: '',
        device_read_iops_sec: '/dev/sda,100,/dev/sdb,200',
        device_write_iops_sec: '',
        device_read_bytes_sec: '',
        device_write_bytes_sec: '/dev/sdb,1048576',
      },
      {
        weight: 0,
        device_weight: '/dev/vda,300',
        device_read_iops_sec: '',
        device_write_iops_sec: '',
        device_read_bytes_sec: '',
        device_write_bytes_sec: '',
      },
    ]);
    expect(await dom.getBlkioParameters({ config: true })).toEqual((after as unknown[])[1]);
  });

  it("passes the daemon's refusals through with libvirt's codes", async () => {
    const dom = await peer.conn.lookupDomain('test');
    // the list goes as written: the daemon's driver parses it
    await expect(dom.setBlkioParameters({ device_weight: '/dev/sda' })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      message: expect.stringContaining("unable to parse blkio device 'device_weight' '/dev/sda'"),
    });
    await expect(dom.setBlkioParameters({ weight: 1 }, { live: true, config: true })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
    await expect(dom.getBlkioParameters({ live: true, config: true })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
  });
});

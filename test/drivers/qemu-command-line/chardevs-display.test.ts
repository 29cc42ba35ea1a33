/**
 * Character devices, graphics and audio on the command line. Expected
 * tokens are libvirt 11.3's for the same XML (its qemuxmlconf cases
 * chardev-backends, serial-udp-chardev, serial-file-log, audio-alsa-full,
 * graphics-vnc-policy, graphics-spice-qxl-vga, graphics-dbus-p2p).
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine, type CommandLinePaths } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const PATHS: CommandLinePaths = { domainDir: '/run/vk/dom', monitor: { path: '/run/vk/dom/monitor.sock' } };

function build(devices: string, paths: CommandLinePaths = PATHS) {
  const caps = fixtureCaps();
  return buildCommandLine(
    applyQemuDefaults(DomainDef.fromXML(tinyDomainXml({ devices })), caps),
    caps,
    paths,
  );
}

function values(argv: string[], opt: string): string[] {
  return argv.flatMap((a, i) => (a === opt && i + 1 < argv.length ? [argv[i + 1]!] : []));
}

function chardevs(devices: string, paths: CommandLinePaths = PATHS): string[] {
  return values(build(devices, paths).argv, '-chardev').filter((c) => !c.includes('id=charmonitor'));
}

function refusal(fn: () => unknown): VirError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VirError) return e;
    throw e;
  }
  throw new Error('expected a VirError');
}

const channel = (type: string, body: string, name = 'x') =>
  `<channel type='${type}'>${body}<target type='virtio' name='${name}'/></channel>`;

describe('chardev backends', () => {
  it('writes tcp and unix as QEMU socket chardevs (QEMU has no tcp/unix backend)', () => {
    expect(
      chardevs(
        channel(
          'unix',
          `<source mode='connect' path='/path/to/unix-listen'><reconnect enabled='yes' timeout='2'/></source>`,
        ) +
          channel('tcp', `<source mode='bind' host='1.2.3.4' service='5679'/><protocol type='telnet'/>`, 'y'),
      ),
    ).toEqual([
      'socket,id=charchannel0,path=/path/to/unix-listen,reconnect-ms=2000',
      'socket,id=charchannel1,host=1.2.3.4,port=5679,telnet=on,server=on,wait=off',
    ]);
  });

  it('gives a TLS tcp client its x509 credentials object first', () => {
    const { argv } = build(
      channel(
        'tcp',
        `<source mode='connect' host='1.2.3.4' service='5678' tls='yes'><reconnect enabled='yes' timeout='2'/></source>`,
      ),
    );
    expect(values(argv, '-object')).toContain(
      '{"qom-type":"tls-creds-x509","id":"objcharchannel0_tls0","dir":"/etc/pki/libvirt-chardev","endpoint":"client","verify-peer":true}',
    );
    expect(values(argv, '-chardev')).toContain(
      'socket,id=charchannel0,host=1.2.3.4,port=5678,reconnect-ms=2000,tls-creds=objcharchannel0_tls0',
    );
  });

  it('builds udp, spicevmc, spiceport, qemu-vdagent and dbus backends', () => {
    expect(
      chardevs(
        `<serial type='udp'><source mode='bind' host='127.0.0.1' service='9999'/><source mode='connect' host='127.0.0.1' service='9998'/></serial>
         <serial type='udp'><source mode='connect' service='9999'/></serial>` +
          channel('spicevmc', '', 'com.redhat.spice.0') +
          channel('qemu-vdagent', `<source><clipboard copypaste='no'/><mouse mode='server'/></source>`, 'v') +
          channel('dbus', `<source channel='test.channel.0'/>`, 'd'),
      ),
    ).toEqual([
      'udp,id=charserial0,host=127.0.0.1,port=9998,localaddr=127.0.0.1,localport=9999',
      'udp,id=charserial1,host=,port=9999,localaddr=,localport=0',
      'spicevmc,id=charchannel0,name=vdagent',
      'qemu-vdagent,id=charchannel1,name=vdagent,clipboard=off,mouse=off',
      'dbus,id=charchannel2,name=test.channel.0',
    ]);
  });

  it('passes files and listening sockets as descriptors when the caller opens them', () => {
    const paths: CommandLinePaths = {
      ...PATHS,
      chardevFds: { file: (_p, _a, role) => (role === 'source' ? 1750 : 1751), unixListen: () => 1729 },
    };
    const { argv } = build(
      `<serial type='file'><source path='/tmp/serial.log' append='off'/><log file='/tmp/serial.log2' append='on'/></serial>` +
        channel('unix', `<source mode='bind' path='/tmp/l.sock'/>`),
      paths,
    );
    expect(values(argv, '-add-fd')).toEqual([
      'set=0,fd=1750,opaque=serial0-source',
      'set=1,fd=1751,opaque=serial0-log',
    ]);
    expect(values(argv, '-chardev')).toContain(
      'file,id=charserial0,path=/dev/fdset/0,append=on,logfile=/dev/fdset/1,logappend=on',
    );
    expect(values(argv, '-chardev')).toContain('socket,id=charchannel0,fd=1729,server=on,wait=off');
  });

  it('doubles commas in paths and refuses control characters', () => {
    expect(chardevs(`<serial type='file'><source path='/tmp/a,b=c'/></serial>`)[0]).toBe(
      'file,id=charserial0,path=/tmp/a,,b=c',
    );
    expect(refusal(() => build(`<serial type='pipe'><source path='/tmp/a&#10;b'/></serial>`)).field).toBe(
      '/domain/devices/serial[1]/source/@path',
    );
  });

  it('refuses reconnect on a listening socket', () => {
    const e = refusal(() =>
      build(
        channel(
          'tcp',
          `<source mode='bind' host='::' service='1'><reconnect enabled='yes' timeout='1'/></source>`,
        ),
      ),
    );
    // the model's own checks or the builder's: either names the channel
    expect(e.field).toMatch(/^\/domain\/devices\/channel\[1\]/);
  });

  it('refuses a guestfwd target that would rewrite the forwarding rule', () => {
    const fwd = (addr: string, port: string) =>
      `<channel type='pty'><target type='guestfwd' address='${addr}' port='${port}'/></channel>`;
    expect(values(build(fwd('10.0.2.1', '4600')).argv, '-netdev')[0]).toBe(
      '{"type":"user","guestfwd":[{"str":"tcp:10.0.2.1:4600-chardev:charchannel0"}],"id":"channel0"}',
    );
    expect(refusal(() => build(fwd('10.0.2.1:1-cmd:/bin/sh', '4600'))).field).toBe(
      '/domain/devices/channel[1]/target/@address',
    );
    expect(refusal(() => build(fwd('10.0.2.1', '1-cmd:x'))).field).toBe(
      '/domain/devices/channel[1]/target/@port',
    );
  });
});

describe('audio and graphics', () => {
  it('writes every audio setting, in and out', () => {
    const { argv } = build(`<audio id='1' type='alsa'>
      <input mixingEngine='yes' fixedSettings='yes' voices='1' bufferLength='100' dev='/dev/dsp0'>
        <settings frequency='44100' channels='2' format='s16'/></input>
      <output mixingEngine='yes' fixedSettings='yes' voices='2' bufferLength='200' dev='/dev/dsp1'>
        <settings frequency='22050' channels='4' format='f32'/></output></audio>`);
    expect(values(argv, '-audiodev')).toEqual([
      '{"id":"audio1","driver":"alsa","in":{"mixing-engine":true,"fixed-settings":true,"voices":1,"buffer-length":100,"frequency":44100,"channels":2,"format":"s16","dev":"/dev/dsp0"},"out":{"mixing-engine":true,"fixed-settings":true,"voices":2,"buffer-length":200,"frequency":22050,"channels":4,"format":"f32","dev":"/dev/dsp1"}}',
    ]);
  });

  it('writes VNC share policy and the audio backend it names', () => {
    const { argv } = build(
      `<graphics type='vnc' port='65530' autoport='no' sharePolicy='allow-exclusive'><listen type='address' address='::'/></graphics>`,
    );
    expect(values(argv, '-vnc')).toEqual(['[::]:59630,share=allow-exclusive,audiodev=audio1']);
  });

  it('keeps a VNC password off the command line and sets it over QMP', () => {
    const cl = build(`<graphics type='vnc' port='5901' autoport='no' passwd='se,cr=et'/>`);
    expect(values(cl.argv, '-vnc')).toEqual(['127.0.0.1:1,password=on,audiodev=audio1']);
    expect(cl.argv.join(' ')).not.toContain('se,cr=et');
    expect(cl.monitorCommands).toEqual([
      { execute: 'set_password', arguments: { protocol: 'vnc', password: 'se,cr=et' } },
      { execute: 'expire_password', arguments: { protocol: 'vnc', time: 'never' } },
    ]);
  });

  it('writes SPICE TLS channels when TLS is configured, and refuses a TLS port otherwise', () => {
    const spice = `<graphics type='spice' port='5903' tlsPort='5904' autoport='no' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/><channel name='main' mode='secure'/><channel name='inputs' mode='insecure'/></graphics>`;
    const cfg = {
      ...PATHS,
      config: { spiceTLS: true, spicePassword: 'p', spiceTLSx509certdir: '/etc/pki/libvirt-spice' },
    };
    expect(values(build(spice, cfg).argv, '-spice')).toEqual([
      'port=5903,tls-port=5904,addr=127.0.0.1,x509-dir=/etc/pki/libvirt-spice,tls-channel=main,plaintext-channel=inputs,seamless-migration=on',
    ]);
    expect(refusal(() => build(spice)).field).toBe('/domain/devices/graphics[1]/@tlsPort');
  });

  it('writes a D-Bus display and refuses rdp without its server, and hostile keymaps', () => {
    expect(values(build(`<graphics type='dbus' p2p='yes'/>`).argv, '-display')).toEqual(['dbus,p2p=on']);
    expect(refusal(() => build(`<graphics type='rdp' autoport='yes'/>`)).code).toBe('CONFIG_UNSUPPORTED');
    expect(
      refusal(() => build(`<graphics type='vnc' port='5900' autoport='no' keymap='en-us,x=1'/>`)).field,
    ).toBe('/domain/devices/graphics[1]/@keymap');
  });
});

describe("RDP graphics (libvirt's graphics-rdp: qemu-rdp on the D-Bus display)", () => {
  const RDP = `<graphics type='dbus'/><graphics type='rdp' port='0' autoport='yes' username='user' passwd='s3,cret'><listen type='address'/></graphics>`;
  const withServer = { ...PATHS, rdpServer: true, dbusSocket: '/run/g/dbus.sock' };

  it('adds no QEMU option of its own, and its login never reaches QEMU', () => {
    const cl = build(RDP, withServer);
    expect(values(cl.argv, '-display')).toEqual(['dbus,addr=unix:path=/run/g/dbus.sock']);
    expect(cl.argv.join(' ')).not.toMatch(/rdp|user=|username/);
    expect(cl.argv.join(' ')).not.toContain('s3,cret');
    expect(JSON.stringify(cl.monitorCommands ?? [])).not.toContain('s3,cret');
    // what the server is to serve is handed to the caller that runs it
    expect(cl.rdpServers).toEqual([
      { field: '/domain/devices/graphics[2]', port: 0, autoport: true, username: 'user', passwd: 's3,cret' },
    ]);
    expect(
      refusal(() => build(`<graphics type='dbus'/><graphics type='rdp' port='0' autoport='no'/>`, withServer))
        .field,
    ).toBe('/domain/devices/graphics[2]/@port');
  });

  it('is refused without a D-Bus display, and without a caller running the server', () => {
    const alone = `<graphics type='rdp' autoport='yes'/>`;
    expect(refusal(() => build(alone, withServer))).toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      field: '/domain/devices/graphics[1]/@type',
    });
    expect(refusal(() => build(RDP, { ...withServer, rdpServer: false }))).toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      field: '/domain/devices/graphics[2]/@type',
    });
  });

  it("keeps an automatic RDP port as written in the inactive XML, where VNC's becomes -1", () => {
    const d = DomainDef.fromXML(tinyDomainXml({ devices: `${RDP}<graphics type='vnc' autoport='yes'/>` }));
    const xml = d.toXML({ inactive: true });
    expect(xml).toContain("<graphics type='rdp' port='0' autoport='yes' username='user' passwd='s3,cret'>");
    expect(xml).toContain("<graphics type='vnc' port='-1' autoport='yes'");
  });
});

describe('sound, video, input, smartcard', () => {
  it('puts HDA codecs behind their controller, on the card audio backend', () => {
    const { argv } = build(
      `<sound model='ich6'><codec type='micro'/><codec type='output'/></sound><audio id='1' type='none'/>`,
    );
    const devs = values(argv, '-device');
    expect(devs).toContain(
      '{"driver":"hda-micro","id":"sound0-codec0","bus":"sound0.0","cad":0,"audiodev":"audio1"}',
    );
    expect(devs).toContain(
      '{"driver":"hda-output","id":"sound0-codec1","bus":"sound0.0","cad":1,"audiodev":"audio1"}',
    );
  });

  it('takes the PC speaker as a machine property', () => {
    expect(values(build(`<sound model='pcspk'/><audio id='1' type='none'/>`).argv, '-machine')[0]).toContain(
      'pcspk-audiodev=audio1',
    );
  });

  it('builds virtio-vga-gl for an accelerated primary virtio video', () => {
    const devs = values(
      build(
        `<video><model type='virtio' heads='1' primary='yes'><acceleration accel3d='yes'/></model></video>`,
      ).argv,
      '-device',
    );
    expect(devs.some((d) => d.startsWith('{"driver":"virtio-vga-gl","id":"video0","max_outputs":1'))).toBe(
      true,
    );
  });

  it('reads an evdev input through input-linux', () => {
    const { argv } = build(
      `<input type='evdev'><source dev='/dev/input/event1234' grab='all' grabToggle='alt-alt' repeat='on'/></input>`,
    );
    expect(values(argv, '-object')).toContain(
      '{"qom-type":"input-linux","id":"input0","evdev":"/dev/input/event1234","repeat":true,"grab_all":true,"grab-toggle":"alt-alt"}',
    );
  });

  it('puts a smartcard on its CCID controller, which sits on USB', () => {
    const devs = values(build(`<smartcard mode='host'/>`).argv, '-device');
    expect(devs).toContain('{"driver":"usb-ccid","id":"ccid0","bus":"usb.0","port":"1"}');
    expect(devs).toContain(
      '{"driver":"ccid-card-emulated","backend":"nss-emulated","id":"smartcard0","bus":"ccid0.0"}',
    );
  });
});

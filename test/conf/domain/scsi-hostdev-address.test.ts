/**
 * SCSI host devices without an address: the unit and controller libvirt's
 * generic parse assigns, and the SCSI controllers they imply, checked
 * against libvirt's own test driver (python3-libvirt, which applies the same
 * generic rules at define) on documents written here.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/index.js';

const HAS_PY = spawnSync('/usr/bin/python3', ['-c', 'import libvirt'], { stdio: 'ignore' }).status === 0;

const PY = `
import libvirt, sys
c = libvirt.open('test:///default')
print(c.defineXML(sys.stdin.read()).XMLDesc())
`;

const hostdev = (unit: number, address = '') =>
  `<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='${unit}'/></source>${address}</hostdev>`;
const drive = (controller: number, unit: number) =>
  `<address type='drive' controller='${controller}' bus='0' target='0' unit='${unit}'/>`;
const domain = (name: string, devices: string) =>
  `<domain type='test'><name>${name}</name><memory>65536</memory><os><type>hvm</type></os><devices>${devices}</devices></domain>`;

const CASES: Record<string, string> = {
  // a SCSI disk holds unit 0; one host device names unit 3; the rest fill 1..6, then controller 1
  'disk and written address': domain(
    'scsi-a',
    `<disk type='file' device='disk'><source file='/tmp/a.img'/><target dev='sda' bus='scsi'/></disk>
     <controller type='scsi' index='0' model='lsilogic'/>${hostdev(0)}${hostdev(1, drive(0, 3))}${[
       2, 3, 4, 5, 6, 7, 8,
     ]
       .map((u) => hostdev(u))
       .join('')}`,
  ),
  // no controller at all: the implied ones have no model
  'no controller': domain('scsi-b', [0, 1, 2, 3, 4, 5, 6, 7].map((u) => hostdev(u)).join('')),
  // a host device on controller 2 implies 0..2, with the model of the highest existing holder
  'controller beyond the last': domain(
    'scsi-c',
    `<controller type='scsi' index='0' model='virtio-scsi'/>${hostdev(0)}${hostdev(1, drive(2, 0))}${hostdev(2)}`,
  ),
  // an IDE disk's drive address is not a SCSI unit
  'ide disk': domain(
    'scsi-d',
    `<disk type='file' device='disk'><source file='/tmp/b.img'/><target dev='hda' bus='ide'/></disk>${hostdev(0)}`,
  ),
};

/** The SCSI controllers and every drive address, in document order. */
function placement(xml: string): string[] {
  return [...xml.matchAll(/<controller type='scsi'[^>]*>|<address type='drive'[^>]*\/>/g)].map((m) =>
    m[0].replace(/\/?>$/, ''),
  );
}

describe.skipIf(!HAS_PY)(
  `SCSI host device addresses${HAS_PY ? '' : ' (skipped: python3-libvirt not installed)'}`,
  () => {
    for (const [what, xml] of Object.entries(CASES)) {
      it(`are assigned as libvirt assigns them: ${what}`, async () => {
        const r = spawnSync('/usr/bin/python3', ['-c', PY], { input: xml, encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        const conn = await connect('test:///default');
        const ours = await (await conn.defineDomain(xml)).getXML();
        await conn.close();
        expect(placement(ours)).toEqual(placement(r.stdout));
        expect(placement(ours).length).toBeGreaterThan(1);
      });
    }
  },
);

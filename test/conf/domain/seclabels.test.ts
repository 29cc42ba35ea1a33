/**
 * `<seclabel>` in an inactive definition, by libvirt's parse and format
 * rules (expected forms from libvirt 11.3's seclabel-* qemuxmlconf cases).
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { VirError } from '../../../src/errors.js';

const dom = (labels: string, disk = '') => `<domain type='qemu'><name>s</name><memory>1024</memory>
  <os><type arch='x86_64'>hvm</type></os><devices>${disk}</devices>${labels}</domain>`;

const seclabels = (xml: string, model?: string) =>
  DomainDef.fromXML(xml, model ? { defaultSecurityModel: model } : {})
    .toXML()
    .split('\n')
    .filter((l) => /seclabel|label>/.test(l))
    .map((l) => l.trim());

function refusal(fn: () => unknown): VirError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VirError);
    return e as VirError;
  }
  throw new Error('expected a refusal');
}

describe('domain <seclabel>', () => {
  it('writes type, model, relabel in that order (seclabel-dynamic)', () => {
    expect(seclabels(dom("<seclabel model='selinux' type='dynamic' relabel='yes'/>"))).toEqual([
      "<seclabel type='dynamic' model='selinux' relabel='yes'/>",
    ]);
  });

  it('drops the run-time <imagelabel> of a static label (seclabel-static-relabel)', () => {
    const xml = dom(
      "<seclabel type='static' model='selinux' relabel='yes'><label>a:b:c:s0</label><imagelabel>a:b:c:s0</imagelabel></seclabel>",
    );
    expect(seclabels(xml)).toEqual([
      "<seclabel type='static' model='selinux' relabel='yes'>",
      '<label>a:b:c:s0</label>',
      '</seclabel>',
    ]);
  });

  it("gives a lone model-less label the driver's model, none making it type none (seclabel-dynamic-relabel)", () => {
    expect(seclabels(dom("<seclabel type='dynamic' relabel='yes'/>"), 'none')).toEqual([
      "<seclabel type='none' model='none'/>",
    ]);
  });

  it('refuses a dynamic label without relabeling and a static one without a label', () => {
    expect(
      refusal(() => DomainDef.fromXML(dom("<seclabel type='dynamic' model='selinux' relabel='no'/>"))).code,
    ).toBe('CONFIG_UNSUPPORTED');
    expect(refusal(() => DomainDef.fromXML(dom("<seclabel type='static' model='selinux'/>"))).code).toBe(
      'XML_ERROR',
    );
  });

  it('refuses two labels of one model', () => {
    const xml = dom("<seclabel type='none' model='dac'/><seclabel type='none' model='dac'/>");
    expect(refusal(() => DomainDef.fromXML(xml)).field).toBe('/domain/seclabel[2]');
  });
});

describe('device <seclabel>', () => {
  const disk = (label: string) =>
    `<disk type='file' device='disk'><source file='/d.img'>${label}</source><target dev='vda' bus='virtio'/></disk>`;

  it('drops a run-time labelskip override (seclabel-dynamic-labelskip)', () => {
    expect(seclabels(dom('', disk("<seclabel model='selinux' labelskip='yes'/>")))).toEqual([]);
  });

  it('keeps a relabel=no override and a label', () => {
    expect(seclabels(dom('', disk("<seclabel model='dac' relabel='no'/>")))).toEqual([
      "<seclabel model='dac' relabel='no'/>",
    ]);
    expect(seclabels(dom('', disk("<seclabel model='selinux'><label>x:y:z</label></seclabel>")))).toEqual([
      "<seclabel model='selinux' relabel='yes'>",
      '<label>x:y:z</label>',
      '</seclabel>',
    ]);
  });

  it('refuses a label when relabelling is off', () => {
    const xml = dom('', disk("<seclabel model='selinux' relabel='no'><label>x</label></seclabel>"));
    expect(refusal(() => DomainDef.fromXML(xml)).code).toBe('XML_ERROR');
  });
});

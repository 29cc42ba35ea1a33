import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine, type CommandLinePaths } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { fixtureCaps } from './caps-fixture.js';

const PATHS: CommandLinePaths = { domainDir: '/run/vk/dom', monitor: { path: '/run/vk/dom/monitor.sock' } };

function argv(inner: string, vcpus = 4): string[] {
  const caps = fixtureCaps();
  const xml = `<domain type='qemu'><name>n</name><memory unit='KiB'>4194304</memory>
    <vcpu placement='static'>${vcpus}</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type></os>${inner}<devices/></domain>`;
  return buildCommandLine(applyQemuDefaults(DomainDef.fromXML(xml), caps), caps, PATHS).argv;
}

const numaArgs = (a: string[]) => a.flatMap((v, i) => (a[i - 1] === '-numa' ? [v] : []));

describe('-numa', () => {
  // libvirt's numatune-distances and numatune-hmat-none cases show these shapes
  it('writes the whole distance table once any distance is given', () => {
    const a = argv(`<cpu><numa>
      <cell cpus='0-1' memory='1048576'><distances><sibling id='1' value='21'/></distances></cell>
      <cell cpus='2-3' memory='1048576'/></numa></cpu>`);
    expect(numaArgs(a).filter((s) => s.startsWith('dist'))).toEqual([
      'dist,src=0,dst=0,val=10',
      'dist,src=0,dst=1,val=21',
      'dist,src=1,dst=0,val=21',
      'dist,src=1,dst=1,val=10',
    ]);
  });

  it('gives every cell an HMAT initiator and writes hmat-lb before hmat-cache', () => {
    const a = argv(`<cpu><numa>
      <cell cpus='0-3' memory='1048576'><cache level='1' associativity='direct' policy='writeback'>
        <size value='10' unit='KiB'/><line value='8' unit='B'/></cache></cell>
      <cell memory='1048576'/>
      <interconnects><latency initiator='0' target='1' type='access' value='5'/></interconnects>
      </numa></cpu>`);
    expect(numaArgs(a)).toEqual([
      'node,nodeid=0,cpus=0-3,initiator=0,memdev=ram-node0',
      'node,nodeid=1,initiator=0,memdev=ram-node1',
      'hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,latency=5',
      'hmat-cache,node-id=0,size=10K,level=1,associativity=direct,policy=write-back,line=8',
    ]);
    expect(a[a.indexOf('-machine') + 1]).toContain('hmat=on');
  });

  it('puts vCPUs no cell lists in cell 0', () => {
    const a = argv(
      `<cpu><numa><cell cpus='0' memory='1048576'/><cell cpus='2' memory='1048576'/></numa></cpu>`,
    );
    expect(numaArgs(a)[0]).toBe('node,nodeid=0,cpus=0-1,cpus=3,memdev=ram-node0');
  });

  it('splits the irqchip for an IOAPIC emulated by QEMU', () => {
    const a = argv(`<features><ioapic driver='qemu'/></features>`);
    expect(a[a.indexOf('-machine') + 1]).toContain('kernel_irqchip=split');
  });
});

describe('-numa without backend objects', () => {
  // libvirt's fd-memory-numa-topology4: an old machine type keeps mem= and -mem-prealloc
  it('gives an old machine type mem= cells and -mem-prealloc for immediate allocation', () => {
    const base = fixtureCaps();
    // QEMU reports numa-mem-supported for machine types older than 5.1
    const old = { ...base.accel.tcg!.machines[0]!, name: 'pc-i440fx-5.0', numaMemSupported: true };
    delete (old as { alias?: string }).alias;
    delete (old as { isDefault?: boolean }).isDefault;
    const caps = fixtureCaps({
      accel: { ...base.accel, tcg: { ...base.accel.tcg!, machines: [...base.accel.tcg!.machines, old] } },
    });
    const xml = `<domain type='qemu'><name>n</name><memory unit='KiB'>1048576</memory>
      <memoryBacking><allocation mode='immediate'/></memoryBacking>
      <vcpu placement='static'>2</vcpu><os><type arch='x86_64' machine='pc-i440fx-5.0'>hvm</type></os>
      <cpu><numa><cell id='0' cpus='0-1' memory='1048576'/></numa></cpu><devices/></domain>`;
    const a = buildCommandLine(applyQemuDefaults(DomainDef.fromXML(xml), caps), caps, PATHS).argv;
    expect(a).toContain('-mem-prealloc');
    expect(numaArgs(a)).toEqual(['node,nodeid=0,cpus=0-1,mem=1024']);
  });
});

import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import { type Props, pciProps, rawAttr } from './device-props.js';
import { checkValue } from './escape.js';

const NIC_DRIVERS: Record<string, string> = { virtio: 'virtio-net-pci', e1000: 'e1000', e1000e: 'e1000e' };

export function buildNets(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  boot: Map<object, number>,
): void {
  for (const [i, n] of (def.devices?.interfaces ?? []).entries()) {
    const field = `/domain/devices/interface[${i + 1}]`;
    if (n.type === 'hostdev') continue;
    const netdev: Props = { type: n.type };
    if (n.type === 'user') netdev.type = 'user';
    else if (n.type === 'server' || n.type === 'client' || n.type === 'mcast' || n.type === 'udp') {
      netdev.type = 'socket';
      const src = n.source;
      const where = `${src?.address ?? ''}:${src?.port ?? ''}`;
      netdev[n.type === 'server' ? 'listen' : n.type === 'client' ? 'connect' : n.type] = checkValue(
        where,
        `${field}/source`,
      );
    } else {
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `interface type '${n.type}' needs a host network setup virtkit does not do yet`,
        {
          field: `${field}/@type`,
        },
      );
    }
    netdev.id = `hostnet${i}`;
    b.props('-netdev', netdev, field);
    const model = n.model?.type ?? 'rtl8139';
    const p: Props = { driver: NIC_DRIVERS[model] ?? checkValue(model, `${field}/model/@type`) };
    const rss = rawAttr(n, 'driver', 'rss');
    if (rss !== undefined && model.startsWith('virtio')) p.rss = rss === 'on';
    const rssHash = rawAttr(n, 'driver', 'rss_hash_report');
    if (rssHash !== undefined && model.startsWith('virtio')) p.hash = rssHash === 'on';
    Object.assign(p, {
      netdev: `hostnet${i}`,
      id: `net${i}`,
      mac: n.mac?.address,
    });
    Object.assign(p, pciProps(n.address, facts));
    const idx = boot.get(n);
    if (idx !== undefined) p.bootindex = idx;
    b.props('-device', p, field);
  }
}

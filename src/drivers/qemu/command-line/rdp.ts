/**
 * `<graphics type='rdp'>`: nothing for QEMU itself; the settings go to the
 * caller that runs the RDP server (`CommandLine.rdpServers`).
 *
 * @module
 */
import type { GraphicsDef } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import type { CommandLinePaths } from './types.js';

/**
 * `<graphics type='rdp'>`: served by an RDP server process (libvirt's
 * qemu-rdp) attached to the guest's D-Bus display, so the definition needs
 * a `<graphics type='dbus'>` and a caller that runs that server; its
 * username and password are the server's, never QEMU's.
 */
export function rdp(
  b: ArgvBuilder,
  g: GraphicsDef,
  graphics: readonly GraphicsDef[],
  field: string,
  paths: CommandLinePaths,
): void {
  if (paths.rdpServer !== true)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${field}: RDP graphics need an RDP server on the D-Bus display (qemu-rdp), which virtkit does not run yet`,
      { field: `${field}/@type` },
    );
  if (!graphics.some((g) => g.type === 'dbus'))
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: RDP graphics need a <graphics type='dbus'>`, {
      field: `${field}/@type`,
    });
  const listen = g.listens?.[0];
  if (listen !== undefined && listen.type !== 'address')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: an RDP server listens on an address only`, {
      field: `${field}/listen/@type`,
    });
  const autoport = g.autoport === true;
  const port = g.port ?? 0;
  if (!autoport && (port < 1 || port > 65535))
    throw new VirError('XML_DETAIL', 'qemu', `${field}: an RDP port must be in range [1,65535]`, {
      field: `${field}/@port`,
    });
  b.rdpServers.push({
    field,
    port: autoport ? 0 : port,
    autoport,
    ...(listen?.address !== undefined ? { listen: listen.address } : {}),
    ...(g.username !== undefined ? { username: g.username } : {}),
    ...(g.passwd !== undefined ? { passwd: g.passwd } : {}),
  });
}

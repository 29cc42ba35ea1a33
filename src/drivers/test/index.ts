/**
 * The `test` driver: an in-memory hypervisor with libvirt's
 * `test:///default` semantics, for harnesses and demos.
 *
 * - `test:///default`: a fresh host per connection with the running domain
 *   `test`, as libvirt's.
 * - `test:///abs/path/node.xml`: the host and domains a libvirt test-driver
 *   config file describes.
 * - `driverOptions.control`: a {@link TestControl} that injects failures,
 *   latency and guest crashes.
 *
 * Where it knowingly differs from libvirt 9.0's test driver:
 * - `createDomain`/`start` with `paused` work (libvirt refuses the flag);
 * - `cpuTime` counts from boot and is 0 when inactive (libvirt reports the
 *   wall clock); the host name is `localhost`, not the machine's;
 * - `getXML` keeps elements libvirt would drop; the definition is the typed
 *   `DomainDef`, with libvirt's parse-time defaults and the test driver's
 *   own (`test-defaults.ts`), but no PCI addresses are assigned (libvirt's
 *   test driver assigns none either);
 * - reverting to a snapshot never gives two domains one name;
 * - it has secrets (libvirt's test driver has no secret driver).
 *
 * @module
 */

import type { DomainDef } from '../../conf/domain/domain-def.js';
import type { DomainStateName, DriverFactory } from '../../driver.js';
import { throwIfAborted, VirError } from '../../errors.js';
import { isRemoteUri } from '../../uri.js';
import {
  configCapabilities,
  DEFAULT_DOMAIN_XML,
  DEFAULT_NODE_INFO,
  defaultCapabilities,
} from './default-host.js';
import { newUuid } from './new-uuid.js';
import { loadNodeConfig } from './node-config.js';
import { TestConnection } from './test-connection.js';
import { TestControl } from './test-control.js';
import { parseTestDomain, readTestExtras } from './test-domain-xml.js';
import type { InitialDomain } from './test-host.js';
import { DEFAULT_OBJECTS } from './test-objects.js';

/** `virDomainState` numbers, as `<test:runstate>` spells a state. */
const RUNSTATES: readonly DomainStateName[] = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
];

export const testDriver: DriverFactory = {
  name: 'test',
  accepts: (uri) => uri.driver === 'test' && !isRemoteUri(uri),
  async open({ uri, driverOptions, signal }) {
    const control = driverOptions.control;
    if (control !== undefined && !(control instanceof TestControl)) {
      throw new VirError('INVALID_ARG', 'test', 'driverOptions.control must be a TestControl');
    }
    const withControl = control ? { control } : {};
    if (uri.path === '/default') {
      const config = defaultDomain();
      return new TestConnection({
        nodeInfo: DEFAULT_NODE_INFO,
        capabilities: defaultCapabilities(),
        domains: [{ config, state: 'running', persistent: true, hasManagedSave: false }],
        objects: DEFAULT_OBJECTS,
        ...withControl,
      });
    }
    if (uri.path.startsWith('/') && uri.path.length > 1) {
      const node = await loadNodeConfig(uri.path, signal);
      throwIfAborted(signal, 'test');
      const domains = node.domains.map(({ element, file }) => initialDomain(element, file));
      try {
        return new TestConnection({
          nodeInfo: node.nodeInfo,
          capabilities: configCapabilities(),
          domains,
          objects: { pools: node.pools, networks: node.networks, nodeDevices: node.nodeDevices },
          ...withControl,
        });
      } catch (err) {
        // a pool, network or device the file describes badly: the connection cannot open
        const v = err instanceof VirError ? err : undefined;
        throw new VirError('NO_CONNECT', 'test', `${uri.path}: ${v ? v.message : String(err)}`, {
          ...(v?.field !== undefined ? { field: v.field } : {}),
          cause: err,
        });
      }
    }
    throw new VirError(
      'NO_CONNECT',
      'test',
      `test driver URI needs a path such as /default, got '${uri.uri}'`,
    );
  },
};

let defaultDef: DomainDef | undefined;

/**
 * The domain `test` of `test:///default`, parsed once: the driver never
 * changes a definition in place (edits make copies), so every connection
 * can start from the same object.
 */
function defaultDomain(): DomainDef {
  defaultDef ??= parseTestDomain(DEFAULT_DOMAIN_XML, { newUuid });
  return defaultDef;
}

function initialDomain(element: Parameters<typeof readTestExtras>[0], file: string): InitialDomain {
  let config: DomainDef;
  let extras: ReturnType<typeof readTestExtras>;
  try {
    config = parseTestDomain(element, { newUuid });
    extras = readTestExtras(element);
  } catch (err) {
    const v = err instanceof VirError ? err : undefined;
    throw new VirError('NO_CONNECT', 'test', `${file}: ${v ? v.message : String(err)}`, {
      ...(v?.line !== undefined ? { line: v.line } : {}),
      ...(v?.column !== undefined ? { column: v.column } : {}),
      ...(v?.field !== undefined ? { field: v.field } : {}),
      cause: err,
    });
  }
  const state = RUNSTATES[extras.runstate ?? 1] ?? 'running';
  if (extras.transient && state === 'shutoff') {
    throw new VirError(
      'NO_CONNECT',
      'test',
      `${file}: transient domain '${config.name}' cannot have runstate 'shutoff'`,
    );
  }
  if (extras.hasManagedSave && state !== 'shutoff') {
    throw new VirError(
      'NO_CONNECT',
      'test',
      `${file}: domain '${config.name}' cannot have a managed save image while active`,
    );
  }
  return { config, state, persistent: !extras.transient, hasManagedSave: extras.hasManagedSave };
}

export type { Fault, FaultError, FaultMatch, MethodSelector, TestCall, TestMethod } from './test-control.js';
export { TestConnection, TestControl };

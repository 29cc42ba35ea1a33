/**
 * One scripted session run against virtkit's test driver and against
 * libvirt's (through python3-libvirt): every lifecycle transition, every
 * refused one, redefinition, rename, transient domains and bad XML. Each
 * step's outcome, error code, events and the facts of every domain are
 * compared. Steps name domains; a runner keeps the handle it got for a name,
 * so a step on an undefined domain uses a stale handle, as an app would.
 */
export type Step =
  | { op: 'define' | 'create'; xml: string }
  | { op: 'lookup'; name: string }
  | { op: 'lookupId'; id: number }
  | { op: 'list'; filter: 'active' | 'inactive' | 'persistent' | 'transient' | 'autostart' | 'paused' }
  | {
      op:
        | 'start'
        | 'suspend'
        | 'resume'
        | 'shutdown'
        | 'reboot'
        | 'reset'
        | 'destroy'
        | 'managedSave'
        | 'hasManagedSave'
        | 'state'
        | 'snapList';
      dom: string;
    }
  | { op: 'undefine'; dom: string; snapshots?: boolean }
  /** `flags`: libvirt's numeric `virDomainSnapshotCreateFlags` / `RevertFlags`, as the peer takes them. */
  | { op: 'snapCreate'; dom: string; xml: string; flags?: number }
  | { op: 'snapRevert'; dom: string; name: string; flags?: number }
  | {
      op: 'snapDelete';
      dom: string;
      name: string;
      children?: boolean;
      childrenOnly?: boolean;
      metadataOnly?: boolean;
    }
  | { op: 'setMemory'; dom: string; kib: number; config?: boolean }
  | { op: 'setVcpus'; dom: string; count: number; config?: boolean }
  | { op: 'setAutostart'; dom: string; value: boolean }
  | { op: 'rename'; dom: string; to: string }
  | { op: 'xml'; dom: string; inactive?: boolean }
  // save files are named relative to the runner's own directory (`saveDir`)
  | { op: 'save'; dom: string; file: string }
  | { op: 'restore'; file: string; paused?: boolean }
  | { op: 'managedSaveRemove'; dom: string }
  | { op: 'setMaxMemory'; dom: string; kib: number; config?: boolean; live?: boolean };

const UUID_A = '5b3a0cbe-55a4-4cc4-8a34-0d4a3f1e1a01';
const UUID_T = '5b3a0cbe-55a4-4cc4-8a34-0d4a3f1e1a02';
const uuid = (n: number) => `5b3a0cbe-55a4-4cc4-8a34-0d4a3f1e1a${String(n).padStart(2, '0')}`;
const UUID_TEST = '6695eb01-f6a4-8304-79aa-97f2502e193f';

function dom(
  name: string,
  opts: { uuid?: string; mib?: number; vcpu?: string; extra?: string } = {},
): string {
  return [
    "<domain type='test'>",
    `<name>${name}</name>`,
    opts.uuid ? `<uuid>${opts.uuid}</uuid>` : '',
    `<memory unit='MiB'>${opts.mib ?? 64}</memory>`,
    opts.vcpu ?? '<vcpu>2</vcpu>',
    '<os><type>hvm</type></os>',
    opts.extra ?? '',
    '</domain>',
  ].join('');
}

export const STEPS: readonly Step[] = [
  { op: 'lookup', name: 'test' },
  { op: 'state', dom: 'test' },
  { op: 'lookupId', id: 1 },
  { op: 'start', dom: 'test' },
  { op: 'resume', dom: 'test' },
  { op: 'suspend', dom: 'test' },
  { op: 'suspend', dom: 'test' },
  { op: 'reboot', dom: 'test' },
  { op: 'suspend', dom: 'test' },
  { op: 'resume', dom: 'test' },
  { op: 'shutdown', dom: 'test' },
  { op: 'shutdown', dom: 'test' },
  { op: 'suspend', dom: 'test' },
  { op: 'resume', dom: 'test' },
  { op: 'destroy', dom: 'test' },
  { op: 'reboot', dom: 'test' },
  { op: 'reset', dom: 'test' },
  { op: 'managedSave', dom: 'test' },
  { op: 'setMemory', dom: 'test', kib: 1024 },
  { op: 'lookupId', id: 1 },
  { op: 'start', dom: 'test' },
  { op: 'reset', dom: 'test' },
  { op: 'setMemory', dom: 'test', kib: 1048576 },
  { op: 'setMemory', dom: 'test', kib: 99999999 },
  { op: 'setVcpus', dom: 'test', count: 1 },
  { op: 'setVcpus', dom: 'test', count: 3 },
  { op: 'setVcpus', dom: 'test', count: 99 },
  { op: 'xml', dom: 'test' },
  { op: 'xml', dom: 'test', inactive: true },
  { op: 'suspend', dom: 'test' },
  { op: 'managedSave', dom: 'test' },
  { op: 'hasManagedSave', dom: 'test' },
  { op: 'undefine', dom: 'test' },
  { op: 'start', dom: 'test' },
  { op: 'hasManagedSave', dom: 'test' },
  { op: 'define', xml: dom('a', { uuid: UUID_A }) },
  { op: 'define', xml: dom('a') },
  { op: 'define', xml: dom('b', { uuid: UUID_A }) },
  { op: 'xml', dom: 'a' },
  { op: 'define', xml: dom('a', { uuid: UUID_A, mib: 128 }) },
  { op: 'setMemory', dom: 'a', kib: 32768, config: true },
  { op: 'setVcpus', dom: 'a', count: 1, config: true },
  { op: 'setVcpus', dom: 'a', count: 4, config: true },
  { op: 'start', dom: 'a' },
  { op: 'xml', dom: 'a' },
  { op: 'define', xml: dom('a', { uuid: UUID_A, mib: 256 }) },
  { op: 'xml', dom: 'a', inactive: true },
  { op: 'destroy', dom: 'a' },
  { op: 'rename', dom: 'a', to: 'c' },
  { op: 'rename', dom: 'c', to: 'test' },
  { op: 'start', dom: 'c' },
  { op: 'rename', dom: 'c', to: 'd' },
  { op: 'setAutostart', dom: 'c', value: true },
  { op: 'list', filter: 'autostart' },
  { op: 'undefine', dom: 'c' },
  { op: 'list', filter: 'transient' },
  { op: 'destroy', dom: 'c' },
  { op: 'start', dom: 'c' },
  { op: 'undefine', dom: 'c' },
  { op: 'lookup', name: 'c' },
  { op: 'create', xml: dom('t', { uuid: UUID_T }) },
  { op: 'managedSave', dom: 't' },
  { op: 'setMemory', dom: 't', kib: 1024, config: true },
  { op: 'create', xml: dom('t') },
  { op: 'define', xml: dom('t', { uuid: UUID_T, mib: 32 }) },
  { op: 'shutdown', dom: 't' },
  { op: 'create', xml: dom('t', { uuid: UUID_T, mib: 16 }) },
  { op: 'create', xml: dom('test', { uuid: UUID_TEST }) },
  { op: 'create', xml: dom('other', { uuid: UUID_TEST }) },
  { op: 'undefine', dom: 't' },
  { op: 'list', filter: 'persistent' },
  { op: 'list', filter: 'paused' },
  { op: 'destroy', dom: 't' },
  { op: 'lookup', name: 't' },
  { op: 'define', xml: "<domain type='test'><name>x</name>" },
  { op: 'define', xml: dom('').replace('<name></name>', '') },
  { op: 'define', xml: "<domain type='test'><name>x</name><memory>1024</memory></domain>" },
  { op: 'define', xml: '<notdomain/>' },
  { op: 'define', xml: dom('x').replace('<name>', '<uuid>not-a-uuid</uuid><name>') },
  { op: 'define', xml: dom('x/y') },
  { op: 'define', xml: dom('x').replace("type='test'", "type='bogus'") },
  { op: 'define', xml: dom('x').replace("<domain type='test'>", '<domain>') },
  { op: 'define', xml: dom('x', { vcpu: "<vcpu current='3'>2</vcpu>" }) },
  { op: 'define', xml: dom('x').replace("unit='MiB'", "unit='bogus'") },
  { op: 'define', xml: dom('x').replace('>64<', '>-5<') },
  { op: 'define', xml: dom('x', { extra: '<on_crash>bogus</on_crash>' }) },
  { op: 'define', xml: dom('x', { vcpu: '<vcpu>abc</vcpu>' }) },
  { op: 'define', xml: dom('x', { uuid: uuid(3), vcpu: "<vcpu current='1'>4</vcpu>" }) },
  { op: 'xml', dom: 'x' },
  {
    op: 'define',
    xml: dom('k', { uuid: uuid(4), extra: '<on_crash>preserve</on_crash><clock offset="localtime"/>' }),
  },
  { op: 'xml', dom: 'k' },
  {
    op: 'define',
    xml: dom('v', {
      uuid: uuid(5),
      vcpu: "<vcpu placement='static' cpuset='0-1' current='1'>2</vcpu>",
    }).replace(
      '<os><type>hvm</type></os>',
      "<os><type machine='pc'>hvm</type><kernel>/boot/vmlinuz</kernel><cmdline>console=ttyS0</cmdline></os><features><acpi/></features><devices><disk type='file' device='disk'><source file='/img'/><target dev='vda' bus='virtio'/></disk></devices>",
    ),
  },
  { op: 'xml', dom: 'v' },
  {
    op: 'define',
    xml: `<domain type='test'><name>w</name><uuid>${uuid(6)}</uuid><memory>1</memory><os><type>xen</type></os><title>T</title></domain>`,
  },
  { op: 'xml', dom: 'w' },
  // snapshots
  { op: 'snapCreate', dom: 'test', xml: '<domainsnapshot><name>s1</name></domainsnapshot>' },
  { op: 'suspend', dom: 'test' },
  {
    op: 'snapCreate',
    dom: 'test',
    xml: '<domainsnapshot><name>s2</name><description>paused</description></domainsnapshot>',
  },
  { op: 'snapCreate', dom: 'test', xml: '<domainsnapshot><name>s2</name></domainsnapshot>' },
  { op: 'destroy', dom: 'test' },
  { op: 'snapCreate', dom: 'test', xml: '<domainsnapshot><name>s3</name></domainsnapshot>' },
  { op: 'snapList', dom: 'test' },
  { op: 'snapRevert', dom: 'test', name: 's1' },
  { op: 'snapRevert', dom: 'test', name: 's2' },
  { op: 'resume', dom: 'test' },
  { op: 'snapRevert', dom: 'test', name: 's3' },
  { op: 'snapRevert', dom: 'test', name: 's3' },
  { op: 'snapRevert', dom: 'test', name: 'nope' },
  { op: 'snapList', dom: 'test' },
  { op: 'undefine', dom: 'test' },
  { op: 'snapDelete', dom: 'test', name: 's2' },
  { op: 'snapList', dom: 'test' },
  { op: 'snapDelete', dom: 'test', name: 's2' },
  { op: 'snapRevert', dom: 'test', name: 's1' },
  { op: 'snapDelete', dom: 'test', name: 's1', children: true },
  { op: 'snapList', dom: 'test' },
  // libvirt's CHILDREN_ONLY: the current snapshot among the children passes the role to the one kept
  { op: 'snapCreate', dom: 'test', xml: '<domainsnapshot><name>c1</name></domainsnapshot>' },
  { op: 'snapCreate', dom: 'test', xml: '<domainsnapshot><name>c2</name></domainsnapshot>' },
  { op: 'snapCreate', dom: 'test', xml: '<domainsnapshot><name>c3</name></domainsnapshot>' },
  { op: 'snapDelete', dom: 'test', name: 'c1', children: true, childrenOnly: true },
  { op: 'snapDelete', dom: 'test', name: 'c3', metadataOnly: true },
  { op: 'snapDelete', dom: 'test', name: 'c1', childrenOnly: true },
  { op: 'snapList', dom: 'test' },
  { op: 'snapDelete', dom: 'test', name: 'c1', childrenOnly: true },
  { op: 'snapList', dom: 'test' },
  { op: 'snapDelete', dom: 'test', name: 'c1' },
  { op: 'snapCreate', dom: 'test', xml: '<nope/>' },
  { op: 'snapCreate', dom: 'test', xml: '<domainsnapshot' },
  {
    op: 'snapCreate',
    dom: 'k',
    xml: '<domainsnapshot><description>d</description><name>k1</name></domainsnapshot>',
  },
  { op: 'setMemory', dom: 'k', kib: 1024, config: true },
  { op: 'snapRevert', dom: 'k', name: 'k1' },
  { op: 'undefine', dom: 'k' },
  { op: 'undefine', dom: 'k', snapshots: true },
  { op: 'list', filter: 'inactive' },
  { op: 'list', filter: 'active' },
];

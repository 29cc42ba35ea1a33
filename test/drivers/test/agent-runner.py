"""Runs the guest agent steps of agent-differential.test.ts on libvirt's test driver.

Reads the steps (JSON) on stdin, prints one result per step (JSON list) on stdout:
{"ok": true, "value": ...} or {"ok": false, "code": "<VIR_ERR_ name without prefix>"}.
"""
import json
import sys

import libvirt

CODES = {getattr(libvirt, n): n[len('VIR_ERR_'):] for n in dir(libvirt) if n.startswith('VIR_ERR_')}
HOSTNAME = {'agent': libvirt.VIR_DOMAIN_GET_HOSTNAME_AGENT, 'lease': libvirt.VIR_DOMAIN_GET_HOSTNAME_LEASE}
SOURCES = {
    'lease': libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
    'agent': libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
    'arp': libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP,
}
SHUTDOWN = {'acpi': libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN, 'agent': libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT}
REBOOT = {'acpi': libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN, 'agent': libvirt.VIR_DOMAIN_REBOOT_GUEST_AGENT}
IP_TYPES = {libvirt.VIR_IP_ADDR_TYPE_IPV4: 'ipv4', libvirt.VIR_IP_ADDR_TYPE_IPV6: 'ipv6'}

libvirt.registerErrorHandler(lambda *_: None, None)
conn = libvirt.open(sys.argv[1] if len(sys.argv) > 1 else 'test:///default')


def run(step):
    op = step['op']
    if op == 'define':
        conn.defineXML(step['xml'])
        return None
    d = conn.lookupByName(step['dom'])
    if op == 'start':
        return d.create()
    if op in ('suspend', 'resume', 'destroy'):
        return getattr(d, op)()
    if op == 'shutdown':
        return d.shutdownFlags(SHUTDOWN.get(step.get('mode'), 0))
    if op == 'reboot':
        return d.reboot(REBOOT.get(step.get('mode'), 0))
    if op == 'hostname':
        return d.hostname(HOSTNAME.get(step.get('source'), 0))
    if op == 'ifaddr':
        got = d.interfaceAddresses(SOURCES[step['source']])
        return [
            {
                'name': name,
                **({'hwaddr': v['hwaddr']} if v.get('hwaddr') else {}),
                'addrs': [{'type': IP_TYPES[a['type']], 'addr': a['addr'], 'prefix': a['prefix']} for a in v['addrs'] or []],
            }
            for name, v in sorted(got.items())
        ]
    if op == 'freeze':
        return d.fsFreeze(step.get('mounts'))
    if op == 'thaw':
        return d.fsThaw(step.get('mounts'))
    if op == 'fsinfo':
        return [{'mountpoint': m, 'name': n, 'fstype': t, 'devAliases': list(a)} for (m, n, t, a) in d.fsInfo()]
    if op == 'gettime':
        return d.getTime()
    if op == 'settime':
        if step.get('sync'):
            return d.setTime(None, libvirt.VIR_DOMAIN_TIME_SYNC)
        return d.setTime({'seconds': step['seconds'], 'nseconds': step['nseconds']})
    if op == 'setpw':
        return d.setUserPassword(step['user'], step['password'])
    raise ValueError(op)


out = []
for s in json.load(sys.stdin):
    try:
        v = run(s)
        out.append({'ok': True, 'value': v if s['op'] in ('hostname', 'ifaddr', 'freeze', 'thaw', 'fsinfo', 'gettime') else None})
    except libvirt.libvirtError as e:
        out.append({'ok': False, 'code': CODES.get(e.get_error_code(), str(e.get_error_code()))})
print(json.dumps(out))

# Asks libvirt (python3-libvirt) what the stats calls answer, for the differential tests.
# argv[1]: URI; argv[2]: JSON list of steps; prints one JSON result per step, in a list.
import json
import sys

import libvirt

libvirt.registerErrorHandler(lambda *_: None, None)
GROUPS = ['state', 'cpu-total', 'balloon', 'vcpu', 'interface', 'block', 'perf', 'iothread',
          'memory', 'dirtyrate', 'vm']
F = {'active': 1, 'inactive': 2, 'persistent': 4, 'transient': 8, 'running': 16, 'paused': 32,
     'shutoff': 64, 'other': 128, 'enforce': 1 << 31, 'backing': 1 << 30}
CODES = {8: 'INVALID_ARG', 42: 'NO_DOMAIN', 55: 'OPERATION_INVALID', 74: 'ARGUMENT_UNSUPPORTED',
         3: 'NO_SUPPORT'}
MEM = {'swap_in': 'swapIn', 'swap_out': 'swapOut', 'major_fault': 'majorFault',
       'minor_fault': 'minorFault', 'unused': 'unused', 'available': 'available',
       'actual': 'actual', 'rss': 'rss', 'usable': 'usable', 'last_update': 'lastUpdate',
       'disk_caches': 'diskCaches', 'hugetlb_pgalloc': 'hugetlbPgalloc',
       'hugetlb_pgfail': 'hugetlbPgfail'}


def plain(v):
    return v if isinstance(v, (str, bool, int, float)) else str(v)


def run(conn, step):
    op = step['op']
    dom = conn.lookupByName(step['domain']) if 'domain' in step else None
    if op == 'all':
        bits = sum(1 << GROUPS.index(g) for g in step.get('groups', []))
        flags = sum(F[f] for f in step.get('flags', []))
        doms = [conn.lookupByName(n) for n in step['domains']] if 'domains' in step else None
        res = conn.domainListGetStats(doms, bits, flags) if doms is not None \
            else conn.getAllDomainStats(bits, flags)
        return sorted([[d.name(), {k: plain(v) for k, v in s.items()}] for d, s in res], key=lambda x: x[0])
    if op == 'blockInfo':
        cap, alloc, phys = dom.blockInfo(step['disk'])
        return {'capacity': cap, 'allocation': alloc, 'physical': phys}
    if op == 'blockStats':
        r = dom.blockStats(step['disk'])
        return dict(zip(['rdReq', 'rdBytes', 'wrReq', 'wrBytes', 'errs'], r))
    if op == 'interfaceStats':
        r = dom.interfaceStats(step['device'])
        return dict(zip(['rxBytes', 'rxPackets', 'rxErrs', 'rxDrop', 'txBytes', 'txPackets',
                         'txErrs', 'txDrop'], r))
    if op == 'memoryStats':
        return {MEM[k]: v for k, v in dom.memoryStats().items()}
    if op == 'destroy':
        dom.destroy()
    elif op == 'suspend':
        dom.suspend()
    elif op == 'setMemory':
        dom.setMemory(step['kib'])
    elif op == 'define':
        conn.defineXML(step['xml'])
    elif op == 'start':
        dom.create()
    return None


def main():
    conn = libvirt.open(sys.argv[1])
    out = []
    for step in json.loads(sys.argv[2]):
        try:
            out.append({'ok': True, 'value': run(conn, step)})
        except libvirt.libvirtError as e:
            out.append({'ok': False, 'code': CODES.get(e.get_error_code(), e.get_error_code())})
    print(json.dumps(out))


main()

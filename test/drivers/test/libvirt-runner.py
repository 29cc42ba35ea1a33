# Runs a differential script (JSON on stdin, see differential-steps.ts) against
# libvirt's own test driver through python3-libvirt and prints one JSON result
# per step: outcome, error code name, events seen, and every domain's facts.
import json
import os
import sys

import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
libvirt.virEventRegisterDefaultImpl()

STATES = ['nostate', 'running', 'blocked', 'paused', 'shutdown', 'shutoff', 'crashed', 'pmsuspended']
# libvirt's enum names lower-case, with spaces for underscores, as src/driver.ts spells them
REASONS = {
    'nostate': ['unknown'],
    'running': ['unknown', 'booted', 'migrated', 'restored', 'from snapshot', 'unpaused',
                'migration canceled', 'save canceled', 'wakeup', 'crashed', 'postcopy'],
    'blocked': ['unknown'],
    'paused': ['unknown', 'user', 'migration', 'save', 'dump', 'ioerror', 'watchdog', 'from snapshot',
               'shutting down', 'snapshot', 'crashed', 'starting up', 'postcopy', 'postcopy failed'],
    'shutdown': ['unknown', 'user'],
    'shutoff': ['unknown', 'shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed',
                'from snapshot', 'daemon'],
    'crashed': ['unknown', 'panicked'],
    'pmsuspended': ['unknown'],
}
EVENTS = ['defined', 'undefined', 'started', 'suspended', 'resumed', 'stopped', 'shutdown', 'pmsuspended',
          'crashed']
DETAILS = {
    'defined': ['added', 'updated', 'renamed', 'from snapshot'],
    'undefined': ['removed', 'renamed'],
    'started': ['booted', 'migrated', 'restored', 'from snapshot', 'wakeup'],
    'suspended': ['paused', 'migrated', 'ioerror', 'watchdog', 'restored', 'from snapshot', 'api error',
                  'postcopy', 'postcopy failed'],
    'resumed': ['unpaused', 'migrated', 'from snapshot', 'postcopy', 'postcopy failed'],
    'stopped': ['shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from snapshot'],
    'shutdown': ['finished', 'guest', 'host'],
    'pmsuspended': ['memory', 'disk'],
    'crashed': ['panicked', 'crashloaded'],
}
ERRORS = {getattr(libvirt, k): k[len('VIR_ERR_'):] for k in dir(libvirt)
          if k.startswith('VIR_ERR_') and isinstance(getattr(libvirt, k), int)
          and k not in ('VIR_ERR_NONE', 'VIR_ERR_WARNING', 'VIR_ERR_ERROR')}

# where the save and restore steps' files are (VIRTKIT_SAVE_DIR, else the working directory)
SAVE_DIR = os.environ.get('VIRTKIT_SAVE_DIR', '.')

conn = libvirt.open('test:///default')
events = []


def on_event(_conn, dom, event, detail, _opaque):
    name = EVENTS[event]
    events.append('%s:%d:%s/%s' % (dom.name(), dom.ID(), name, DETAILS[name][detail]))


conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event, None)


def drain():
    done = [False]
    timer = libvirt.virEventAddTimeout(5, lambda *_: done.__setitem__(0, True), None)
    while not done[0]:
        libvirt.virEventRunDefaultImpl()
    libvirt.virEventRemoveTimeout(timer)


def snapshot():
    out = []
    for d in conn.listAllDomains():
        state, reason = d.state()
        sname = STATES[state]
        info = d.info()
        out.append({
            'name': d.name(), 'id': d.ID(), 'state': sname, 'reason': REASONS[sname][reason],
            'persistent': bool(d.isPersistent()), 'autostart': bool(d.autostart()),
            'managedSave': bool(d.hasManagedSaveImage(0)),
            'maxMem': info[1], 'memory': info[2], 'nrVirtCpu': info[3],
        })
    out.sort(key=lambda x: x['name'])
    return out


handles = {}
LIST_FLAGS = {
    'active': libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE,
    'inactive': libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE,
    'persistent': libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT,
    'transient': libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
    'autostart': libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART,
    'paused': libvirt.VIR_CONNECT_LIST_DOMAINS_PAUSED,
}


def handle(name):
    if name not in handles:
        handles[name] = conn.lookupByName(name)
    return handles[name]


def run(step):
    op = step['op']
    if op == 'define':
        d = conn.defineXML(step['xml'])
        handles[d.name()] = d
        return d.name()
    if op == 'create':
        d = conn.createXML(step['xml'], 0)
        handles[d.name()] = d
        return d.name()
    if op == 'lookup':
        d = conn.lookupByName(step['name'])
        handles[d.name()] = d
        return d.name()
    if op == 'lookupId':
        return conn.lookupByID(step['id']).name()
    if op == 'restore':
        flags = libvirt.VIR_DOMAIN_SAVE_PAUSED if step.get('paused') else 0
        conn.restoreFlags(os.path.join(SAVE_DIR, step['file']), None, flags)
        return None
    if op == 'list':
        return sorted(d.name() for d in conn.listAllDomains(LIST_FLAGS[step['filter']]))
    d = handle(step['dom'])
    if op == 'start':
        d.create()
    elif op == 'suspend':
        d.suspend()
    elif op == 'resume':
        d.resume()
    elif op == 'shutdown':
        d.shutdown()
    elif op == 'reboot':
        d.reboot(0)
    elif op == 'reset':
        d.reset(0)
    elif op == 'destroy':
        d.destroy()
    elif op == 'undefine':
        if step.get('snapshots'):
            d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        else:
            d.undefine()
    elif op == 'snapCreate':
        return d.snapshotCreateXML(step['xml'], step.get('flags', 0)).getName()
    elif op == 'snapRevert':
        d.revertToSnapshot(d.snapshotLookupByName(step['name'], 0), step.get('flags', 0))
    elif op == 'snapDelete':
        flags = libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN if step.get('children') else 0
        if step.get('childrenOnly'):
            flags |= libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY
        if step.get('metadataOnly'):
            flags |= libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY
        d.snapshotLookupByName(step['name'], 0).delete(flags)
    elif op == 'snapList':
        out = []
        for s in d.listAllSnapshots():
            try:
                parent = s.getParent().getName()
            except libvirt.libvirtError:
                parent = None
            out.append({'name': s.getName(), 'parent': parent, 'current': bool(s.isCurrent())})
        return sorted(out, key=lambda x: x['name'])
    elif op == 'managedSave':
        d.managedSave(0)
    elif op == 'hasManagedSave':
        return bool(d.hasManagedSaveImage(0))
    elif op == 'managedSaveRemove':
        d.managedSaveRemove(0)
    elif op == 'save':
        d.save(os.path.join(SAVE_DIR, step['file']))
    elif op == 'setMaxMemory':
        flags = libvirt.VIR_DOMAIN_MEM_MAXIMUM
        if step.get('config'):
            flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if step.get('live'):
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        d.setMemoryFlags(step['kib'], flags)
    elif op == 'setMemory':
        if step.get('config'):
            d.setMemoryFlags(step['kib'], libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        else:
            d.setMemory(step['kib'])
    elif op == 'setVcpus':
        if step.get('config'):
            d.setVcpusFlags(step['count'], libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        else:
            d.setVcpus(step['count'])
    elif op == 'setAutostart':
        d.setAutostart(1 if step['value'] else 0)
    elif op == 'rename':
        d.rename(step['to'], 0)
        handles[step['to']] = d
    elif op == 'xml':
        return d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if step.get('inactive') else 0)
    elif op == 'state':
        s, r = d.state()
        return [STATES[s], REASONS[STATES[s]][r]]
    else:
        raise ValueError('unknown op ' + op)
    return None


results = []
for step in json.load(sys.stdin):
    try:
        value = run(step)
        result = {'ok': True, 'value': value}
    except libvirt.libvirtError as e:
        result = {'ok': False, 'code': ERRORS.get(e.get_error_code(), str(e.get_error_code()))}
    drain()
    result['events'] = events[:]
    del events[:]
    result['domains'] = snapshot()
    results.append(result)
print(json.dumps(results))

"""Defines each domain of device-domains.json on libvirt's test driver and
prints what it shows: the XML after define (plain and secure), after start
(live) and the next-boot XML while running. Reads the domain list as JSON
on stdin, writes the results as JSON on stdout."""
import json
import sys

import libvirt

libvirt.registerErrorHandler(lambda *_: None, None)
conn = libvirt.open('test:///default')
out = []
for xml in json.load(sys.stdin):
    try:
        dom = conn.defineXML(xml)
        r = {
            'ok': True,
            'defined': dom.XMLDesc(0),
            'secure': dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE),
        }
        dom.create()
        r['live'] = dom.XMLDesc(0)
        r['inactive'] = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        dom.destroy()
        dom.undefine()
    except libvirt.libvirtError as e:
        r = {'ok': False, 'code': e.get_error_code()}
    out.append(r)
json.dump(out, sys.stdout)

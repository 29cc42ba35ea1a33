/**
 * Which running guest uses a volume: its live definition names the volume
 * (`<source pool volume>`) or the volume's path, on a disk or anywhere in a
 * disk's backing chain. Asked before a volume is deleted, resized, wiped or
 * written.
 *
 * @module
 */
import type { DriverConnection } from '../../../driver.js';
import { parseXml } from '../../../xml/parse.js';
import type { XmlElement } from '../../../xml/tree.js';

function* sources(el: XmlElement): Generator<XmlElement> {
  for (const c of el.children) {
    if (c.type !== 'element') continue;
    if (c.name === 'source') yield c;
    yield* sources(c);
  }
}

function uses(disk: XmlElement, path: string, pool: string, volume: string): boolean {
  for (const s of sources(disk)) {
    const a = (n: string) => s.attrs.find((x) => x.name === n)?.value;
    if (a('pool') === pool && a('volume') === volume) return true;
    if (a('file') === path || a('dev') === path || a('dir') === path) return true;
  }
  return false;
}

/** The first running guest of `conn` using the volume, by name. */
export async function guestUsingVolume(
  conn: {
    listDomains: DriverConnection['listDomains'];
    domainGetXml: NonNullable<DriverConnection['domainGetXml']>;
  },
  path: string,
  pool: string,
  volume: string,
): Promise<string | undefined> {
  for (const dom of await conn.listDomains({ active: true })) {
    let xml: string;
    try {
      xml = await conn.domainGetXml(dom);
    } catch {
      continue; // stopped meanwhile
    }
    const devices = parseXml(xml).children.find(
      (c): c is XmlElement => c.type === 'element' && c.name === 'devices',
    );
    for (const d of devices?.children ?? [])
      if (d.type === 'element' && d.name === 'disk' && uses(d, path, pool, volume)) return dom.name;
  }
  return undefined;
}

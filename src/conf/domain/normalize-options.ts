/**
 * Options of the parse-time normalisation, and the default sources of the
 * identifiers it generates (UUIDs, MAC addresses).
 *
 * @module
 */

/**
 * Inputs of libvirt's parse-time defaults that are not in the document: the host's architecture and
 * where new MACs and UUIDs come from.
 */
export interface NormalizeOptions {
  /** Guest architecture when `<os><type>` has none. Default `x86_64` (libvirt uses the host's). */
  defaultArch?: string;
  /** Source of new MAC addresses. Default: `52:54:00` plus three random bytes. */
  generateMac?: () => string;
  /** Source of new UUIDs. Default: `crypto.randomUUID()`. */
  generateUuid?: () => string;
  /**
   * Leave out the controllers devices imply (see `addImplicitControllers`):
   * a driver that adds its own default controllers first sets this and adds
   * them after its defaults, which is libvirt's order (the QEMU driver's
   * default USB controller and PCI root come before an implied IDE
   * controller). Default false.
   */
  deferImplicitControllers?: boolean;
  /**
   * The driver's first security model (libvirt: the host capabilities'
   * first `<secmodel>`), given to a lone `<seclabel>` without a model.
   * Default: none, and such a label keeps no model.
   */
  defaultSecurityModel?: string;
  /**
   * libvirt's `VIR_DOMAIN_DEF_PARSE_ABI_UPDATE`, which its QEMU driver's define
   * and create pass (its test driver does not, nor does a read of a stored
   * definition): `<memory>` of a guest with NUMA cells becomes the cells' sum
   * plus the memory devices' sizes, whatever it said. Default false.
   */
  abiUpdate?: boolean;
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

/** A new MAC address in libvirt's range for guests (`52:54:00` and three random bytes). */
export function randomMac(): string {
  const b = randomBytes(3);
  return `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}

/** A new random (version 4) UUID, for definitions that have none. */
export function randomUuid(): string {
  return globalThis.crypto.randomUUID();
}

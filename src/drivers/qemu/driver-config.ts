/**
 * The host-wide settings of the QEMU driver that shape a guest's
 * definition and command line: libvirt reads them from qemu.conf. They are
 * one typed input here, with libvirt's defaults, so that a caller (or a
 * test harness reproducing libvirt's) states each setting instead of the
 * builder guessing it.
 *
 * @module
 */

/**
 * The QEMU driver's settings that libvirt reads from qemu.conf (graphics listens, TLS, audio, ...).
 */
export interface QemuDriverConfig {
  /** `vnc_listen`: the address a VNC listen of type address without one gets. */
  vncListen: string;
  /** `vnc_auto_unix_socket`: such a listen becomes a UNIX socket in the domain's directory instead. */
  vncAutoUnixSocket: boolean;
  /** `vnc_tls`: VNC servers use TLS (x509 credentials from `vncTLSx509certdir`). */
  vncTLS: boolean;
  /** `vnc_tls_x509_cert_dir` (libvirt: `default_tls_x509_cert_dir`, /etc/pki/qemu). */
  vncTLSx509certdir: string;
  /** `vnc_tls_x509_verify`: clients must present a certificate (libvirt: `default_tls_x509_verify`, on). */
  vncTLSx509verify: boolean;
  /** `vnc_tls_x509_secret_uuid`: the secret holding the password of the server key, if it has one. */
  vncTLSx509secretUUID?: string;
  /** `vnc_sasl`: VNC clients authenticate with SASL. */
  vncSASL: boolean;
  /** `vnc_sasl_dir`: where QEMU's SASL configuration is (`SASL_CONF_PATH`); unset leaves SASL's own. */
  vncSASLdir?: string;
  /** `vnc_password`: the password of VNC servers whose definition has none. */
  vncPassword?: string;
  /** `vnc_allow_host_audio`: a VNC guest may play through the host's audio (`QEMU_AUDIO_DRV`). */
  vncAllowHostAudio: boolean;
  /** `nographics_allow_host_audio`: the same for a guest without graphics. */
  nogfxAllowHostAudio: boolean;
  /** `spice_listen`. */
  spiceListen: string;
  /** `spice_auto_unix_socket`. */
  spiceAutoUnixSocket: boolean;
  /** `spice_tls`: SPICE may listen with TLS (`tlsPort`). */
  spiceTLS: boolean;
  /** `spice_tls_x509_cert_dir` (libvirt: `default_tls_x509_cert_dir`). */
  spiceTLSx509certdir: string;
  /** `spice_sasl`: SPICE clients authenticate with SASL. */
  spiceSASL: boolean;
  /** `spice_sasl_dir`. */
  spiceSASLdir?: string;
  /** `spice_password`: the password of SPICE servers whose definition has none. */
  spicePassword?: string;
}

/** libvirt's `default_tls_x509_cert_dir`. */
export const DEFAULT_TLS_X509_CERT_DIR = '/etc/pki/qemu';

/** What libvirt's QEMU driver uses when qemu.conf sets nothing. */
export const DEFAULT_QEMU_DRIVER_CONFIG: Readonly<QemuDriverConfig> = Object.freeze({
  vncListen: '127.0.0.1',
  vncAutoUnixSocket: false,
  vncTLS: false,
  vncTLSx509certdir: DEFAULT_TLS_X509_CERT_DIR,
  vncTLSx509verify: true,
  vncSASL: false,
  vncAllowHostAudio: false,
  nogfxAllowHostAudio: false,
  spiceListen: '127.0.0.1',
  spiceAutoUnixSocket: false,
  spiceTLS: false,
  spiceTLSx509certdir: DEFAULT_TLS_X509_CERT_DIR,
  spiceSASL: false,
});

/** The full configuration: libvirt's defaults with `overrides` on top. */
export function driverConfig(overrides: Partial<QemuDriverConfig> | undefined): QemuDriverConfig {
  return { ...DEFAULT_QEMU_DRIVER_CONFIG, ...overrides };
}

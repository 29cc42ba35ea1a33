/**
 * x86 CPU features libvirt's CPU map spells differently from QEMU. libvirt
 * reads blockers in its own spelling and writes them back in QEMU's, so a
 * blocker QEMU reported in the libvirt spelling comes out in QEMU's: we do
 * the same, keeping blockers in QEMU's spelling whichever QEMU sent.
 *
 * @module
 */

/** libvirt's spelling -> QEMU's (libvirt 11.3's translation table). */
const X86_QEMU_SPELLING: ReadonlyMap<string, string> = new Map([
  ['cmp_legacy', 'cmp-legacy'],
  ['ds_cpl', 'ds-cpl'],
  ['fxsr_opt', 'fxsr-opt'],
  ['kvm_pv_eoi', 'kvm-pv-eoi'],
  ['kvm_pv_unhalt', 'kvm-pv-unhalt'],
  ['lahf_lm', 'lahf-lm'],
  ['nodeid_msr', 'nodeid-msr'],
  ['pclmuldq', 'pclmulqdq'],
  ['perfctr_core', 'perfctr-core'],
  ['perfctr_nb', 'perfctr-nb'],
  ['tsc_adjust', 'tsc-adjust'],
  ['vmx-invvpid-single-context-noglobals', 'vmx-invept-single-context-noglobals'],
  ['hv-vendor_id', 'hv-vendor-id'],
  ['hv-emsr_bitmap', 'hv-emsr-bitmap'],
  ['hv-xmm_input', 'hv-xmm-input'],
]);

/** QEMU's spelling of a feature name for an architecture (libvirt's arch names). */
export function qemuFeatureSpelling(arch: string, feature: string): string {
  if (arch !== 'x86_64' && arch !== 'i686') return feature;
  return X86_QEMU_SPELLING.get(feature) ?? feature;
}

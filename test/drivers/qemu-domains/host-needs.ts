/**
 * What a guest definition needs from the host beyond QEMU, read from the
 * host rather than assumed: a UEFI firmware descriptor for `firmware='efi'`
 * (Debian: ovmf), swtpm for an emulated TPM (Debian: swtpm, swtpm-tools).
 * Tests skip such a guest visibly, with the reason, where the host lacks it,
 * so they hold on a host with and without those packages.
 */
import { execFileSync } from 'node:child_process';
import { hostFirmwareDescriptors } from '../../../src/drivers/qemu/defaults/firmware-files.js';

const descriptors = await hostFirmwareDescriptors('session');

/** Whether the host has an x86_64 UEFI firmware descriptor (qemu:///session reads the system ones too). */
export const HAS_X86_UEFI = descriptors.some(
  (d) => d.interfaces.includes('uefi') && d.targets.some((t) => t.architecture === 'x86_64'),
);

export const HAS_SWTPM = (() => {
  try {
    execFileSync('swtpm', ['socket', '--print-capabilities'], { stdio: 'ignore' });
    execFileSync('swtpm_setup', ['--print-capabilities'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Why this host cannot run the definition `xml` (what it lacks), or
 * undefined. `helpers: false` asks only what defining and converting it
 * needs (the firmware), not what a start runs (swtpm).
 */
export function missingOnHost(xml: string, options: { helpers?: boolean } = {}): string | undefined {
  const lacks: string[] = [];
  if (/<os\b[^>]*\bfirmware=["']efi["']/.test(xml) && !HAS_X86_UEFI)
    lacks.push('no x86_64 UEFI firmware descriptor (Debian: ovmf)');
  if (options.helpers !== false && /<tpm\b[\s\S]*?<backend\s+type=["']emulator["']/.test(xml) && !HAS_SWTPM)
    lacks.push('no swtpm/swtpm_setup (Debian: swtpm, swtpm-tools)');
  return lacks.length > 0 ? lacks.join('; ') : undefined;
}

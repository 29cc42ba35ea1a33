/**
 * The machine libvirt (11.3) lists first for an architecture (libvirt's
 * names), whatever QEMU calls its default: a QEMU that changes its default
 * must not change what guests get. When the binary lacks it, QEMU's default
 * comes first instead.
 *
 * @module
 */
export const PREFERRED_MACHINE: Readonly<Record<string, string>> = {
  alpha: 'clipper',
  armv6l: 'integratorcp',
  armv7l: 'virt',
  armv7b: 'virt',
  aarch64: 'virt',
  cris: 'axis-dev88',
  i686: 'pc',
  lm32: 'lm32-evr',
  loongarch64: 'virt',
  m68k: 'mcf5208evb',
  microblaze: 'petalogix-s3adsp1800',
  microblazeel: 'petalogix-s3adsp1800',
  mips: 'malta',
  mipsel: 'malta',
  mips64: 'malta',
  mips64el: 'malta',
  or32: 'or1k-sim',
  ppc: 'g3beige',
  ppcle: 'g3beige',
  ppc64: 'pseries',
  ppc64le: 'pseries',
  ppcemb: 'bamboo',
  riscv32: 'virt',
  riscv64: 'virt',
  s390x: 's390-ccw-virtio',
  sh4: 'shix',
  sh4eb: 'shix',
  sparc: 'SS-5',
  sparc64: 'sun4u',
  unicore32: 'puv3',
  x86_64: 'pc',
  xtensa: 'sim',
  xtensaeb: 'sim',
};

/**
 * The virtio transport options libvirt accepts on the `<driver>` element of
 * every virtio device (disk, filesystem, NIC, controller, video, input,
 * balloon, RNG, vsock, ...): the IOMMU platform, PCIe ATS, packed virtqueues
 * and one page per virtqueue. Each device's driver mapper spreads these
 * fields after its own, where libvirt writes them.
 *
 * @module
 */
import { attr, onOff } from '../../binding.js';

/** The spec-table entries of the virtio options, spread into each virtio device's `<driver>` table. */
export const virtioDriverOptions = {
  /** The `iommu` attribute: the device goes through the guest's IOMMU (QEMU's `iommu_platform`). */
  iommu: attr('iommu', onOff),
  /** The `ats` attribute: PCIe Address Translation Services for the device. */
  ats: attr('ats', onOff),
  /** The `packed` attribute: packed virtqueues instead of split ones. */
  packed: attr('packed', onOff),
  /** The `page_per_vq` attribute: one notification page per virtqueue. */
  pagePerVq: attr('page_per_vq', onOff),
};

/** The parsed virtio options of a `<driver>`. */
export interface VirtioDriverOptions {
  /** `iommu='on'`: the device goes through the guest's IOMMU. */
  iommu?: boolean;
  /** `ats='on'`: PCIe Address Translation Services. */
  ats?: boolean;
  /** `packed='on'`: packed virtqueues. */
  packed?: boolean;
  /** `page_per_vq='on'`: one notification page per virtqueue. */
  pagePerVq?: boolean;
}

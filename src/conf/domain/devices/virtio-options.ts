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

export const virtioDriverOptions = {
  iommu: attr('iommu', onOff),
  ats: attr('ats', onOff),
  packed: attr('packed', onOff),
  pagePerVq: attr('page_per_vq', onOff),
};

/** The parsed virtio options of a `<driver>`. */
export interface VirtioDriverOptions {
  iommu?: boolean;
  ats?: boolean;
  packed?: boolean;
  pagePerVq?: boolean;
}

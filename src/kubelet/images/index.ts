/**
 * Images without a registry: OCI layout archives built by hand (oci.ts) and the pause and
 * busybox images every node and test needs (build.ts). Import them with containerd's
 * `importImages`.
 */

export { writeOciArchive, layerTar, ociArch, MEDIA_TYPES } from './oci.ts';
export type { LayerEntry, ImageConfig, OciImage } from './oci.ts';
export { buildPauseImage, buildBusyboxImage, busyboxLayer, PAUSE_IMAGE, BUSYBOX_IMAGE, BUSYBOX_BINARY } from './build.ts';

/** Schema of storage.k8s.io/v1 (io.k8s.api.storage.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: [
    'StorageClass', 'StorageClassList', 'VolumeAttachment', 'VolumeAttachmentList', 'CSINode', 'CSINodeList',
    'CSIDriver', 'CSIDriverList', 'CSIStorageCapacity', 'CSIStorageCapacityList',
  ],
  types: {
    CSIDriver: { metadata: '1 meta.v1.ObjectMeta', spec: '2 CSIDriverSpec ! req' },
    CSIDriverList: { metadata: '1 meta.v1.ListMeta', items: '2 []CSIDriver ! req' },
    CSIDriverSpec: {
      attachRequired: '1 *bool',
      podInfoOnMount: '2 *bool',
      volumeLifecycleModes: '3 []string list=set',
      storageCapacity: '4 *bool',
      fsGroupPolicy: '5 *string',
      tokenRequests: '6 []TokenRequest list=atomic',
      requiresRepublish: '7 *bool',
      seLinuxMount: '8 *bool',
      nodeAllocatableUpdatePeriodSeconds: '9 *int64',
    },
    CSINode: { metadata: '1 meta.v1.ObjectMeta', spec: '2 CSINodeSpec ! req' },
    CSINodeDriver: {
      name: '1 string ! req',
      nodeID: '2 string ! req',
      topologyKeys: '3 []string ! list=atomic',
      allocatable: '4 *VolumeNodeResources',
    },
    CSINodeList: { metadata: '1 meta.v1.ListMeta', items: '2 []CSINode ! req' },
    CSINodeSpec: { drivers: '1 []CSINodeDriver ! req merge=name list=map keys=name' },
    CSIStorageCapacity: {
      metadata: '1 meta.v1.ObjectMeta',
      nodeTopology: '2 *meta.v1.LabelSelector',
      storageClassName: '3 string ! req',
      capacity: '4 *Quantity',
      maximumVolumeSize: '5 *Quantity',
    },
    CSIStorageCapacityList: { metadata: '1 meta.v1.ListMeta', items: '2 []CSIStorageCapacity ! req' },
    StorageClass: {
      metadata: '1 meta.v1.ObjectMeta',
      provisioner: '2 string ! req',
      parameters: '3 map[string]string',
      reclaimPolicy: '4 *string',
      mountOptions: '5 []string list=atomic',
      allowVolumeExpansion: '6 *bool',
      volumeBindingMode: '7 *string',
      allowedTopologies: '8 []core.v1.TopologySelectorTerm list=atomic',
    },
    StorageClassList: { metadata: '1 meta.v1.ListMeta', items: '2 []StorageClass ! req' },
    TokenRequest: { audience: '1 string ! req', expirationSeconds: '2 *int64' },
    VolumeAttachment: {
      metadata: '1 meta.v1.ObjectMeta',
      spec: '2 VolumeAttachmentSpec ! req',
      status: '3 VolumeAttachmentStatus',
    },
    VolumeAttachmentList: { metadata: '1 meta.v1.ListMeta', items: '2 []VolumeAttachment ! req' },
    VolumeAttachmentSource: { persistentVolumeName: '1 *string', inlineVolumeSpec: '2 *core.v1.PersistentVolumeSpec' },
    VolumeAttachmentSpec: {
      attacher: '1 string ! req',
      source: '2 VolumeAttachmentSource ! req',
      nodeName: '3 string ! req',
    },
    VolumeAttachmentStatus: {
      attached: '1 bool ! req',
      attachmentMetadata: '2 map[string]string',
      attachError: '3 *VolumeError',
      detachError: '4 *VolumeError',
    },
    VolumeError: { time: '1 Time', message: '2 string', errorCode: '3 *int32' },
    VolumeNodeResources: { count: '1 *int32' },
  },
} satisfies SchemaFile;

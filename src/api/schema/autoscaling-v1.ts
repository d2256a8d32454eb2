/** Schema of autoscaling/v1 (io.k8s.api.autoscaling.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: ['HorizontalPodAutoscaler', 'HorizontalPodAutoscalerList', 'Scale'],
  types: {
    ContainerResourceMetricSource: {
      name: '1 string ! req',
      targetAverageUtilization: '2 *int32',
      targetAverageValue: '3 *Quantity',
      container: '5 string ! req',
    },
    ContainerResourceMetricStatus: {
      name: '1 string ! req',
      currentAverageUtilization: '2 *int32',
      currentAverageValue: '3 Quantity ! req',
      container: '4 string ! req',
    },
    CrossVersionObjectReference: {
      '@': 'struct=atomic',
      kind: '1 string ! req',
      name: '2 string ! req',
      apiVersion: '3 string',
    },
    ExternalMetricSource: {
      metricName: '1 string ! req',
      metricSelector: '2 *meta.v1.LabelSelector',
      targetValue: '3 *Quantity',
      targetAverageValue: '4 *Quantity',
    },
    ExternalMetricStatus: {
      metricName: '1 string ! req',
      metricSelector: '2 *meta.v1.LabelSelector',
      currentValue: '3 Quantity ! req',
      currentAverageValue: '4 *Quantity',
    },
    HorizontalPodAutoscaler: {
      metadata: '1 meta.v1.ObjectMeta',
      spec: '2 HorizontalPodAutoscalerSpec',
      status: '3 HorizontalPodAutoscalerStatus',
    },
    HorizontalPodAutoscalerCondition: {
      type: '1 string ! req',
      status: '2 string ! req',
      lastTransitionTime: '3 Time',
      reason: '4 string',
      message: '5 string',
    },
    HorizontalPodAutoscalerList: { metadata: '1 meta.v1.ListMeta', items: '2 []HorizontalPodAutoscaler ! req' },
    HorizontalPodAutoscalerSpec: {
      scaleTargetRef: '1 CrossVersionObjectReference ! req',
      minReplicas: '2 *int32',
      maxReplicas: '3 int32 ! req',
      targetCPUUtilizationPercentage: '4 *int32',
    },
    HorizontalPodAutoscalerStatus: {
      observedGeneration: '1 *int64',
      lastScaleTime: '2 *Time',
      currentReplicas: '3 int32 ! req',
      desiredReplicas: '4 int32 ! req',
      currentCPUUtilizationPercentage: '5 *int32',
    },
    MetricSpec: {
      type: '1 string ! req',
      object: '2 *ObjectMetricSource',
      pods: '3 *PodsMetricSource',
      resource: '4 *ResourceMetricSource',
      containerResource: '7 *ContainerResourceMetricSource',
      external: '5 *ExternalMetricSource',
    },
    MetricStatus: {
      type: '1 string ! req',
      object: '2 *ObjectMetricStatus',
      pods: '3 *PodsMetricStatus',
      resource: '4 *ResourceMetricStatus',
      containerResource: '7 *ContainerResourceMetricStatus',
      external: '5 *ExternalMetricStatus',
    },
    ObjectMetricSource: {
      target: '1 CrossVersionObjectReference ! req',
      metricName: '2 string ! req',
      targetValue: '3 Quantity ! req',
      selector: '4 *meta.v1.LabelSelector',
      averageValue: '5 *Quantity',
    },
    ObjectMetricStatus: {
      target: '1 CrossVersionObjectReference ! req',
      metricName: '2 string ! req',
      currentValue: '3 Quantity ! req',
      selector: '4 *meta.v1.LabelSelector',
      averageValue: '5 *Quantity',
    },
    PodsMetricSource: {
      metricName: '1 string ! req',
      targetAverageValue: '2 Quantity ! req',
      selector: '3 *meta.v1.LabelSelector',
    },
    PodsMetricStatus: {
      metricName: '1 string ! req',
      currentAverageValue: '2 Quantity ! req',
      selector: '3 *meta.v1.LabelSelector',
    },
    ResourceMetricSource: {
      name: '1 string ! req',
      targetAverageUtilization: '2 *int32',
      targetAverageValue: '3 *Quantity',
    },
    ResourceMetricStatus: {
      name: '1 string ! req',
      currentAverageUtilization: '2 *int32',
      currentAverageValue: '3 Quantity ! req',
    },
    Scale: { metadata: '1 meta.v1.ObjectMeta', spec: '2 ScaleSpec', status: '3 ScaleStatus' },
    ScaleSpec: { replicas: '1 int32' },
    ScaleStatus: { replicas: '1 int32 ! req', selector: '2 string' },
  },
} satisfies SchemaFile;

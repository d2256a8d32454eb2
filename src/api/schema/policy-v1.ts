/** Schema of policy/v1 (io.k8s.api.policy.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: ['PodDisruptionBudget', 'PodDisruptionBudgetList', 'Eviction'],
  types: {
    Eviction: { metadata: '1 meta.v1.ObjectMeta', deleteOptions: '2 *meta.v1.DeleteOptions' },
    PodDisruptionBudget: {
      metadata: '1 meta.v1.ObjectMeta',
      spec: '2 PodDisruptionBudgetSpec',
      status: '3 PodDisruptionBudgetStatus',
    },
    PodDisruptionBudgetList: { metadata: '1 meta.v1.ListMeta', items: '2 []PodDisruptionBudget ! req' },
    PodDisruptionBudgetSpec: {
      minAvailable: '1 *IntOrString',
      selector: '2 *meta.v1.LabelSelector patch=replace',
      maxUnavailable: '3 *IntOrString',
      unhealthyPodEvictionPolicy: '4 *string',
    },
    PodDisruptionBudgetStatus: {
      observedGeneration: '1 int64',
      disruptedPods: '2 map[string]Time',
      disruptionsAllowed: '3 int32 ! req',
      currentHealthy: '4 int32 ! req',
      desiredHealthy: '5 int32 ! req',
      expectedPods: '6 int32 ! req',
      conditions: '7 []meta.v1.Condition merge=type list=map keys=type',
    },
  },
} satisfies SchemaFile;

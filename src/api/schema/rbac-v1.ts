/** Schema of rbac.authorization.k8s.io/v1 (io.k8s.api.rbac.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: [
    'Role', 'RoleBinding', 'RoleBindingList', 'RoleList', 'ClusterRole', 'ClusterRoleBinding',
    'ClusterRoleBindingList', 'ClusterRoleList',
  ],
  types: {
    AggregationRule: { clusterRoleSelectors: '1 []meta.v1.LabelSelector list=atomic' },
    ClusterRole: {
      metadata: '1 meta.v1.ObjectMeta',
      rules: '2 []PolicyRule ! list=atomic',
      aggregationRule: '3 *AggregationRule',
    },
    ClusterRoleBinding: {
      metadata: '1 meta.v1.ObjectMeta',
      subjects: '2 []Subject list=atomic',
      roleRef: '3 RoleRef ! req',
    },
    ClusterRoleBindingList: { metadata: '1 meta.v1.ListMeta', items: '2 []ClusterRoleBinding ! req' },
    ClusterRoleList: { metadata: '1 meta.v1.ListMeta', items: '2 []ClusterRole ! req' },
    PolicyRule: {
      verbs: '1 []string ! req list=atomic',
      apiGroups: '2 []string list=atomic',
      resources: '3 []string list=atomic',
      resourceNames: '4 []string list=atomic',
      nonResourceURLs: '5 []string list=atomic',
    },
    Role: { metadata: '1 meta.v1.ObjectMeta', rules: '2 []PolicyRule ! list=atomic' },
    RoleBinding: { metadata: '1 meta.v1.ObjectMeta', subjects: '2 []Subject list=atomic', roleRef: '3 RoleRef ! req' },
    RoleBindingList: { metadata: '1 meta.v1.ListMeta', items: '2 []RoleBinding ! req' },
    RoleList: { metadata: '1 meta.v1.ListMeta', items: '2 []Role ! req' },
    RoleRef: { '@': 'struct=atomic', apiGroup: '1 string ! req', kind: '2 string ! req', name: '3 string ! req' },
    Subject: {
      '@': 'struct=atomic',
      kind: '1 string ! req',
      apiGroup: '2 string',
      name: '3 string ! req',
      namespace: '4 string',
    },
  },
} satisfies SchemaFile;

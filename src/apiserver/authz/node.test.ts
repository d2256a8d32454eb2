import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume, PersistentVolumeClaim, Pod, VolumeAttachment } from '../../api/index.ts';
import type { UserInfo } from '../../api/types.ts';
import type { AuthorizationAttributes, Decision } from './index.ts';
import { NodeGraph, nodeAuthorizer, nodeIdentity, nodeRules, podConfigMapNames, podSecretNames, rulesAllow, type NodeAuthorizationAttributes, type NodeGraphSource } from './node.ts';

// ---- fixtures ---------------------------------------------------------------------------------

const nodeUser = (name: string): UserInfo => ({ username: `system:node:${name}`, groups: ['system:nodes', 'system:authenticated'] });

function pod(name: string, node: string, spec: Partial<NonNullable<Pod['spec']>> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return { metadata: { name, namespace: 'ns', uid: `uid-${name}`, ...meta }, spec: { containers: [{ name: 'c' }], nodeName: node, ...spec } };
}

const pods: Pod[] = [
  pod('web', 'n1', {
    serviceAccountName: 'web-sa',
    imagePullSecrets: [{ name: 'pull' }],
    containers: [
      {
        name: 'c',
        env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'k' } } }, { name: 'B', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'k' } } }],
        envFrom: [{ secretRef: { name: 'envfrom-secret' } }, { configMapRef: { name: 'envfrom-cm' } }],
      },
    ],
    volumes: [
      { name: 'v1', secret: { secretName: 'vol-secret' } },
      { name: 'v2', configMap: { name: 'vol-cm' } },
      { name: 'v3', projected: { sources: [{ secret: { name: 'proj-secret' } }, { configMap: { name: 'proj-cm' } }] } },
      { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
      { name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: {} } } },
    ],
    resourceClaims: [{ name: 'gpu', resourceClaimName: 'gpu-claim' }, { name: 'tpl', resourceClaimTemplateName: 't' }],
  }, {}),
  pod('db', 'n2', { volumes: [{ name: 'v', secret: { secretName: 'db-secret' } }] }),
  pod('static', 'n1', { volumes: [{ name: 'v', secret: { secretName: 'mirror-secret' } }] }, { annotations: { 'kubernetes.io/config.mirror': 'abc' } }),
  pod('pending', '', { volumes: [{ name: 'v', secret: { secretName: 'pending-secret' } }] }),
];
pods[0]!.status = { resourceClaimStatuses: [{ name: 'tpl', resourceClaimName: 'web-tpl-x7' }] };

const pvcs: Record<string, PersistentVolumeClaim> = {
  'ns/data': { metadata: { name: 'data', namespace: 'ns' }, spec: { volumeName: 'pv-data' } },
};
const pvs: Record<string, PersistentVolume> = {
  'pv-data': {
    metadata: { name: 'pv-data' },
    spec: {
      claimRef: { namespace: 'ns', name: 'data' },
      csi: { driver: 'd', volumeHandle: 'h', nodePublishSecretRef: { namespace: 'ns', name: 'csi-node-secret' }, controllerPublishSecretRef: { namespace: 'ns', name: 'csi-controller-secret' } },
    },
  },
  'pv-other': { metadata: { name: 'pv-other' }, spec: { claimRef: { namespace: 'ns', name: 'other' } } },
};
const vas: Record<string, VolumeAttachment> = {
  'va-1': { metadata: { name: 'va-1' }, spec: { attacher: 'd', nodeName: 'n1', source: {} } },
};

function source(list: Pod[] = pods, counter = { version: 1, calls: 0 }): NodeGraphSource & { counter: typeof counter } {
  return {
    counter,
    version: () => counter.version,
    pods: () => {
      counter.calls++;
      return list;
    },
    persistentVolumeClaim: (ns, name) => pvcs[`${ns}/${name}`],
    persistentVolume: (name) => pvs[name],
    volumeAttachment: (name) => vas[name],
  };
}

function attrs(a: Partial<NodeAuthorizationAttributes> & { user?: UserInfo }): NodeAuthorizationAttributes {
  return {
    user: nodeUser('n1'),
    verb: 'get',
    isResourceRequest: true,
    apiGroup: '',
    apiVersion: 'v1',
    resource: '',
    subresource: '',
    namespace: '',
    name: '',
    path: '',
    ...a,
  };
}

const allowed: Decision = { decision: 'allow', reason: '' };
const none = (reason = ''): Decision => ({ decision: 'noopinion', reason });
const noRelation = (node = 'n1') => none(`no relationship found between node '${node}' and this object`);

// ---- identity and rules -----------------------------------------------------------------------

test('a node is system:node:<name> in group system:nodes', () => {
  assert.deepEqual(nodeIdentity(nodeUser('n1')), { isNode: true, nodeName: 'n1' });
  assert.deepEqual(nodeIdentity({ username: 'system:node:n1', groups: ['system:authenticated'] }), { isNode: false, nodeName: '' });
  assert.deepEqual(nodeIdentity({ username: 'alice', groups: ['system:nodes'] }), { isNode: false, nodeName: '' });
  assert.deepEqual(nodeIdentity({ username: 'system:node:', groups: ['system:nodes'] }), { isNode: true, nodeName: '' });
});

test('the default matcher follows RBAC: wildcards, */subresource, resource names and URL prefixes', () => {
  const a = (x: Partial<AuthorizationAttributes>) => attrs({ user: { username: 'u', groups: [] }, ...x });
  const r = [
    { verbs: ['get'], apiGroups: ['*'], resources: ['*/status'] },
    { verbs: ['*'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['only'] },
    { verbs: ['get'], nonResourceURLs: ['/healthz/*', '/version'] },
  ];
  assert.equal(rulesAllow(r, a({ verb: 'get', apiGroup: 'apps', resource: 'deployments', subresource: 'status' })), true);
  assert.equal(rulesAllow(r, a({ verb: 'get', apiGroup: 'apps', resource: 'deployments' })), false);
  assert.equal(rulesAllow(r, a({ verb: 'delete', resource: 'configmaps', name: 'only' })), true);
  assert.equal(rulesAllow(r, a({ verb: 'delete', resource: 'configmaps', name: 'other' })), false);
  assert.equal(rulesAllow(r, a({ isResourceRequest: false, verb: 'get', path: '/healthz/etcd' })), true);
  assert.equal(rulesAllow(r, a({ isResourceRequest: false, verb: 'get', path: '/version' })), true);
  assert.equal(rulesAllow(r, a({ isResourceRequest: false, verb: 'get', path: '/metrics' })), false);
});

test('nodeRules is upstream system:node with its order and sorted verbs', () => {
  assert.equal(nodeRules.length, 24);
  assert.deepEqual(nodeRules[0], { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'] });
  assert.deepEqual(nodeRules[15], { verbs: ['create', 'delete', 'get', 'patch', 'update'], apiGroups: ['coordination.k8s.io'], resources: ['leases'] });
});

test('what a pod references: secrets and configmaps from every place upstream visits', () => {
  assert.deepEqual(podSecretNames(pods[0]!).sort(), ['env-secret', 'envfrom-secret', 'proj-secret', 'pull', 'vol-secret']);
  assert.deepEqual(podConfigMapNames(pods[0]!).sort(), ['env-cm', 'envfrom-cm', 'proj-cm', 'vol-cm']);
});

// ---- decisions --------------------------------------------------------------------------------

interface Case {
  name: string;
  attrs: Partial<NodeAuthorizationAttributes> & { user?: UserInfo };
  want: Decision;
  selectors?: boolean;
}

const secret = (name: string, x: Partial<NodeAuthorizationAttributes> = {}) => ({ resource: 'secrets', namespace: 'ns', name, ...x });
const configmap = (name: string, x: Partial<NodeAuthorizationAttributes> = {}) => ({ resource: 'configmaps', namespace: 'ns', name, ...x });

const cases: Case[] = [
  // who is a node
  { name: 'a user that is not a node gets no opinion', attrs: { user: { username: 'alice', groups: ['system:authenticated'] }, ...secret('vol-secret') }, want: none() },
  { name: 'a node name without the system:nodes group is not a node', attrs: { user: { username: 'system:node:n1', groups: [] }, ...secret('vol-secret') }, want: none() },
  { name: 'a node without a name is refused', attrs: { user: { username: 'system:node:', groups: ['system:nodes'] }, ...secret('vol-secret') }, want: none('unknown node for user "system:node:"') },

  // secrets and configmaps its pods use
  { name: "a node reads its pod's secret volume", attrs: secret('vol-secret'), want: allowed },
  { name: "a node reads its pod's image pull secret", attrs: secret('pull'), want: allowed },
  { name: "a node reads its pod's env secret", attrs: secret('env-secret'), want: allowed },
  { name: "a node reads its pod's envFrom secret", attrs: secret('envfrom-secret'), want: allowed },
  { name: "a node reads its pod's projected secret", attrs: secret('proj-secret'), want: allowed },
  { name: "a node reads its pod's configmap volume", attrs: configmap('vol-cm'), want: allowed },
  { name: "a node reads its pod's env configmap", attrs: configmap('env-cm'), want: allowed },
  { name: "a node reads its pod's projected configmap", attrs: configmap('proj-cm'), want: allowed },
  { name: 'a node may watch one named secret of its pods', attrs: secret('vol-secret', { verb: 'watch' }), want: allowed },
  { name: "another node's pod's secret is refused", attrs: secret('db-secret'), want: noRelation() },
  { name: "the other node reads its own pod's secret", attrs: { user: nodeUser('n2'), ...secret('db-secret') }, want: allowed },
  { name: "the other node cannot read n1's secret", attrs: { user: nodeUser('n2'), ...secret('vol-secret') }, want: noRelation('n2') },
  { name: 'a secret in another namespace of the same name is refused', attrs: secret('vol-secret', { namespace: 'other' }), want: noRelation() },
  { name: "a mirror pod's secret is refused", attrs: secret('mirror-secret'), want: noRelation() },
  { name: "an unscheduled pod's secret is refused", attrs: secret('pending-secret'), want: noRelation() },
  { name: 'a node with no pods is refused', attrs: { user: nodeUser('n3'), ...secret('vol-secret') }, want: noRelation('n3') },
  { name: 'listing secrets (no name) is refused', attrs: secret('', { verb: 'list' }), want: none('No Object name found') },
  { name: 'writing a secret is refused', attrs: secret('vol-secret', { verb: 'update' }), want: none('can only read resources of this type') },
  { name: 'a secret subresource is refused', attrs: secret('vol-secret', { subresource: 'x' }), want: none('cannot read subresource') },
  { name: 'a cluster-wide secret read is refused', attrs: secret('', { verb: 'list', namespace: '' }), want: none('can only read namespaced object of this type') },

  // claims, volumes, their secrets
  { name: "a node gets its pod's claim", attrs: { resource: 'persistentvolumeclaims', namespace: 'ns', name: 'data' }, want: allowed },
  { name: "a node gets its pod's ephemeral volume claim (<pod>-<volume>)", attrs: { resource: 'persistentvolumeclaims', namespace: 'ns', name: 'web-scratch' }, want: allowed },
  { name: 'a node cannot list claims', attrs: { resource: 'persistentvolumeclaims', namespace: 'ns', verb: 'list' }, want: none('can only get individual resources of this type') },
  { name: "a node updates its pod's claim status", attrs: { resource: 'persistentvolumeclaims', subresource: 'status', namespace: 'ns', name: 'data', verb: 'patch' }, want: allowed },
  { name: 'a node cannot get claim status', attrs: { resource: 'persistentvolumeclaims', subresource: 'status', namespace: 'ns', name: 'data', verb: 'get' }, want: none('can only get/update/patch this type') },
  { name: "a node gets the PV bound to its pod's claim", attrs: { resource: 'persistentvolumes', name: 'pv-data' }, want: allowed },
  { name: 'a PV bound to an unrelated claim is refused', attrs: { resource: 'persistentvolumes', name: 'pv-other' }, want: noRelation() },
  { name: 'an unknown PV is refused', attrs: { resource: 'persistentvolumes', name: 'nope' }, want: noRelation() },
  { name: "the PV's node-publish secret is readable", attrs: secret('csi-node-secret'), want: allowed },
  { name: "the PV's controller secret is not (not kubelet-visible)", attrs: secret('csi-controller-secret'), want: noRelation() },
  { name: "another node cannot read the PV's secret", attrs: { user: nodeUser('n2'), ...secret('csi-node-secret') }, want: noRelation('n2') },
  { name: "a node gets its pod's resource claim", attrs: { apiGroup: 'resource.k8s.io', resource: 'resourceclaims', namespace: 'ns', name: 'gpu-claim' }, want: allowed },
  { name: "a node gets its pod's template-generated claim", attrs: { apiGroup: 'resource.k8s.io', resource: 'resourceclaims', namespace: 'ns', name: 'web-tpl-x7' }, want: allowed },
  { name: 'a node gets its volume attachment', attrs: { apiGroup: 'storage.k8s.io', resource: 'volumeattachments', name: 'va-1' }, want: allowed },
  { name: "another node's volume attachment is refused", attrs: { user: nodeUser('n2'), apiGroup: 'storage.k8s.io', resource: 'volumeattachments', name: 'va-1' }, want: noRelation('n2') },

  // service account tokens
  { name: "a node creates a token for its pod's service account", attrs: { resource: 'serviceaccounts', subresource: 'token', namespace: 'ns', name: 'web-sa', verb: 'create' }, want: allowed },
  { name: 'a token for an unrelated service account is refused', attrs: { resource: 'serviceaccounts', subresource: 'token', namespace: 'ns', name: 'default', verb: 'create' }, want: noRelation() },
  { name: 'reading a service account is refused', attrs: { resource: 'serviceaccounts', namespace: 'ns', name: 'web-sa' }, want: none('can only create tokens for individual service accounts') },
  { name: 'creating a service account is refused', attrs: { resource: 'serviceaccounts', namespace: 'ns', name: 'web-sa', verb: 'create' }, want: none('can only create token subresource of serviceaccount') },

  // leases and CSINodes
  { name: 'a node updates its own lease', attrs: { apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease', name: 'n1', verb: 'update' }, want: allowed },
  { name: "a node cannot update another node's lease", attrs: { apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease', name: 'n2', verb: 'update' }, want: none('can only access node lease with the same name as the requesting node') },
  { name: 'a node creates a lease (the name is checked by NodeRestriction)', attrs: { apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease', verb: 'create' }, want: allowed },
  { name: 'a lease outside kube-node-lease is refused', attrs: { apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'default', name: 'n1' }, want: none('can only access leases in the "kube-node-lease" system namespace') },
  { name: 'listing leases is refused', attrs: { apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease', verb: 'list' }, want: none('can only get, create, update, patch, or delete a node lease') },
  { name: 'a node patches its own CSINode', attrs: { apiGroup: 'storage.k8s.io', resource: 'csinodes', name: 'n1', verb: 'patch' }, want: allowed },
  { name: "a node cannot get another node's CSINode", attrs: { apiGroup: 'storage.k8s.io', resource: 'csinodes', name: 'n2' }, want: none('can only access CSINode with the same name as the requesting node') },

  // NodeRules
  { name: 'NodeRules: a node lists pods', attrs: { resource: 'pods', verb: 'list' }, want: allowed },
  { name: 'NodeRules: a node gets any pod', attrs: { resource: 'pods', namespace: 'ns', name: 'db' }, want: allowed },
  { name: 'NodeRules: a node creates (mirror) pods', attrs: { resource: 'pods', namespace: 'ns', verb: 'create' }, want: allowed },
  { name: 'NodeRules: a node cannot update a pod', attrs: { resource: 'pods', namespace: 'ns', name: 'web', verb: 'update' }, want: none() },
  { name: 'NodeRules: a node updates pod status', attrs: { resource: 'pods', subresource: 'status', namespace: 'ns', name: 'web', verb: 'update' }, want: allowed },
  { name: 'NodeRules: a node evicts pods', attrs: { resource: 'pods', subresource: 'eviction', namespace: 'ns', name: 'web', verb: 'create' }, want: allowed },
  { name: 'NodeRules: a node updates its node (NodeRestriction checks which)', attrs: { resource: 'nodes', name: 'n2', verb: 'update' }, want: allowed },
  { name: 'NodeRules: a node lists nodes', attrs: { resource: 'nodes', verb: 'list' }, want: allowed },
  { name: 'NodeRules: a node cannot delete nodes', attrs: { resource: 'nodes', name: 'n1', verb: 'delete' }, want: none() },
  { name: 'NodeRules: a node patches node status', attrs: { resource: 'nodes', subresource: 'status', name: 'n1', verb: 'patch' }, want: allowed },
  { name: 'NodeRules: a node creates events', attrs: { resource: 'events', namespace: 'ns', verb: 'create' }, want: allowed },
  { name: 'NodeRules: a node watches services', attrs: { resource: 'services', verb: 'watch' }, want: allowed },
  { name: 'NodeRules: a node gets endpoints', attrs: { resource: 'endpoints', namespace: 'ns', name: 'x' }, want: allowed },
  { name: 'NodeRules: a node creates CSRs', attrs: { apiGroup: 'certificates.k8s.io', resource: 'certificatesigningrequests', verb: 'create' }, want: allowed },
  { name: 'NodeRules: a node creates token reviews', attrs: { apiGroup: 'authentication.k8s.io', resource: 'tokenreviews', verb: 'create' }, want: allowed },
  { name: 'NodeRules: a node creates subject access reviews', attrs: { apiGroup: 'authorization.k8s.io', resource: 'subjectaccessreviews', verb: 'create' }, want: allowed },
  { name: 'NodeRules: a node lists runtime classes', attrs: { apiGroup: 'node.k8s.io', resource: 'runtimeclasses', verb: 'list' }, want: allowed },
  { name: 'NodeRules: a node cannot list deployments', attrs: { apiGroup: 'apps', resource: 'deployments', verb: 'list' }, want: none() },
  { name: 'NodeRules: a non-resource path is not in the rules', attrs: { isResourceRequest: false, verb: 'get', path: '/metrics' }, want: none() },

  // AuthorizeNodeWithSelectors
  { name: 'selectors: a node reads its own Node', selectors: true, attrs: { resource: 'nodes', name: 'n1' }, want: allowed },
  { name: 'selectors: a node cannot read another Node', selectors: true, attrs: { resource: 'nodes', name: 'n2' }, want: none("node 'n1' cannot read 'n2', only its own Node object") },
  { name: 'selectors: a node cannot list all Nodes', selectors: true, attrs: { resource: 'nodes', verb: 'list' }, want: none("node 'n1' cannot read all nodes, only its own Node object") },
  { name: 'selectors: a node still creates a Node', selectors: true, attrs: { resource: 'nodes', verb: 'create' }, want: allowed },
  { name: 'selectors: a node gets its own pod', selectors: true, attrs: { resource: 'pods', namespace: 'ns', name: 'web' }, want: allowed },
  { name: 'selectors: a node gets its mirror pod', selectors: true, attrs: { resource: 'pods', namespace: 'ns', name: 'static' }, want: allowed },
  { name: "selectors: another node's pod is refused", selectors: true, attrs: { resource: 'pods', namespace: 'ns', name: 'db' }, want: noRelation() },
  { name: 'selectors: a node watches pods with spec.nodeName=itself', selectors: true, attrs: { resource: 'pods', verb: 'watch', fieldSelector: 'spec.nodeName=n1' }, want: allowed },
  { name: 'selectors: == counts as equals', selectors: true, attrs: { resource: 'pods', verb: 'list', fieldSelector: 'status.phase!=Failed,spec.nodeName==n1' }, want: allowed },
  { name: 'selectors: listing pods of another node is refused', selectors: true, attrs: { resource: 'pods', verb: 'list', fieldSelector: 'spec.nodeName=n2' }, want: none('can only list/watch pods with spec.nodeName field selector') },
  { name: 'selectors: listing all pods is refused', selectors: true, attrs: { resource: 'pods', verb: 'list' }, want: none('can only list/watch pods with spec.nodeName field selector') },
  { name: 'selectors: a node updates pod status', selectors: true, attrs: { resource: 'pods', subresource: 'status', namespace: 'ns', name: 'db', verb: 'patch' }, want: allowed },
  { name: 'selectors: a node cannot exec into pods', selectors: true, attrs: { resource: 'pods', subresource: 'exec', namespace: 'ns', name: 'web', verb: 'create' }, want: none() },
];

for (const c of cases) {
  test(c.name, async () => {
    const authz = nodeAuthorizer(source(), { authorizeWithSelectors: c.selectors });
    assert.deepEqual(await authz.authorize(attrs(c.attrs)), c.want);
  });
}

test('the authorizer is named Node', () => {
  assert.equal(nodeAuthorizer(source()).name, 'Node');
});

test('an injected matcher and rule list replace the defaults', async () => {
  const seen: string[] = [];
  const authz = nodeAuthorizer(source(), {
    rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }],
    ruleAllows: (rules, a) => {
      seen.push(`${rules.length}:${a.resource}`);
      return a.resource === 'pods';
    },
  });
  assert.deepEqual(await authz.authorize(attrs({ resource: 'pods', verb: 'delete' })), allowed);
  assert.deepEqual(await authz.authorize(attrs({ resource: 'services', verb: 'get' })), none());
  // Graph-decided resources never reach the matcher.
  assert.deepEqual(await authz.authorize(attrs(secret('vol-secret'))), allowed);
  assert.deepEqual(seen, ['1:pods', '1:services']);
});

test('the index is rebuilt only when the version changes', async () => {
  const list = [pod('a', 'n1', { volumes: [{ name: 'v', secret: { secretName: 's1' } }] })];
  const src = source(list);
  const authz = nodeAuthorizer(src);
  assert.deepEqual(await authz.authorize(attrs(secret('s1'))), allowed);
  assert.deepEqual(await authz.authorize(attrs(secret('s1'))), allowed);
  assert.equal(src.counter.calls, 1);
  // The pod moves to n2: unseen until the version changes.
  list[0] = pod('a', 'n2', { volumes: [{ name: 'v', secret: { secretName: 's1' } }] });
  assert.deepEqual(await authz.authorize(attrs(secret('s1'))), allowed);
  src.counter.version++;
  assert.deepEqual(await authz.authorize(attrs(secret('s1'))), noRelation());
  assert.deepEqual(await authz.authorize(attrs({ user: nodeUser('n2'), ...secret('s1') })), allowed);
  assert.equal(src.counter.calls, 2);
});

test('a deleted pod takes its references with it', () => {
  const list = [pod('a', 'n1', { volumes: [{ name: 'v', secret: { secretName: 's1' } }] }), pod('b', 'n1', { volumes: [{ name: 'v', secret: { secretName: 's1' } }] })];
  const src = source(list);
  const graph = new NodeGraph(src);
  assert.equal(graph.refs('n1')?.secrets.has('ns/s1'), true);
  list.pop();
  src.counter.version++;
  assert.equal(graph.refs('n1')?.secrets.has('ns/s1'), true, 'still used by pod a');
  list.pop();
  src.counter.version++;
  assert.equal(graph.refs('n1'), undefined);
});

test('a PV whose claimRef does not point back at the claim does not expose its secrets', async () => {
  const src = source([pod('a', 'n1', { volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'data' } }] })]);
  const pv = pvs['pv-data']!;
  const saved = pv.spec!.claimRef;
  pv.spec!.claimRef = { namespace: 'ns', name: 'someone-else' };
  try {
    assert.deepEqual(await nodeAuthorizer(src).authorize(attrs(secret('csi-node-secret'))), noRelation());
  } finally {
    pv.spec!.claimRef = saved;
  }
  assert.deepEqual(await nodeAuthorizer(src).authorize(attrs(secret('csi-node-secret'))), allowed);
});

test('ResourceSlices: create is left to admission; a node reads only slices on itself', async () => {
  const src: NodeGraphSource = { ...source(), resourceSlice: (name) => (name === 's-n1' ? { spec: { nodeName: 'n1' } } : { spec: { nodeName: 'n2' } }) };
  const rs = (x: Partial<NodeAuthorizationAttributes>) => attrs({ apiGroup: 'resource.k8s.io', resource: 'resourceslices', ...x });
  const authz = nodeAuthorizer(src);
  assert.deepEqual(await authz.authorize(rs({ verb: 'create' })), allowed);
  assert.deepEqual(await authz.authorize(rs({ verb: 'delete', name: 's-n1' })), allowed);
  assert.deepEqual(await authz.authorize(rs({ verb: 'get', name: 's-n2' })), noRelation());
  assert.deepEqual(await authz.authorize(rs({ verb: 'list' })), allowed);
  const scoped = nodeAuthorizer(src, { authorizeWithSelectors: true });
  assert.deepEqual(await scoped.authorize(rs({ verb: 'deletecollection', fieldSelector: 'nodeName=n1' })), allowed);
  assert.deepEqual(await scoped.authorize(rs({ verb: 'list' })), none('can only list/watch/deletecollection resourceslices with nodeName field selector'));
});

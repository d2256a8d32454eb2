import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from '../../api/index.ts';
import type { KubeObject, UserInfo } from '../../api/types.ts';
import type { ResourceDef } from '../../api/resource.ts';
import { builtinResources } from '../../api/groups/index.ts';
import { isNotFound, StatusError } from '../../api/errors.ts';
import { createCsr } from '../../pki/csr.ts';
import { forbiddenNodeLabels, nodeRestrictionPlugin, type NodeRestrictionSource } from './noderestriction.ts';
import type { AdmissionAttributes } from './types.ts';

// ---- fixtures ---------------------------------------------------------------------------------

const nodeUser = (name: string): UserInfo => ({ username: `system:node:${name}`, groups: ['system:nodes', 'system:authenticated'] });

function def(group: string, plural: string): ResourceDef {
  const d = builtinResources.find((r) => r.group === group && r.plural === plural);
  if (d) return d;
  // Kinds Bosun does not serve: enough of a declaration for admission.
  return { group, version: 'v1', kind: plural, plural, singular: plural, namespaced: false } as ResourceDef;
}

const obj = <T>(o: T) => o as unknown as KubeObject;

function pod(name: string, node: string, x: Partial<NonNullable<Pod['spec']>> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return { metadata: { name, namespace: 'ns', uid: `uid-${name}`, ...meta }, spec: { containers: [{ name: 'c', image: 'i' }], nodeName: node, ...x } };
}

const n1: Node = { metadata: { name: 'n1', uid: 'node-uid-1', labels: { 'kubernetes.io/hostname': 'n1' } }, spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] } };

const existing: Record<string, Pod> = {
  'ns/mine': pod('mine', 'n1'),
  'ns/theirs': pod('theirs', 'n2'),
};
const src: NodeRestrictionSource = {
  pod: (ns, name) => existing[`${ns}/${name}`],
  node: (name) => (name === 'n1' ? n1 : undefined),
};

function mirror(x: Partial<NonNullable<Pod['spec']>> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return pod('static-n1', 'n1', x, {
    annotations: { 'kubernetes.io/config.mirror': 'hash' },
    ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'node-uid-1', controller: true }],
    ...meta,
  });
}

type A = Partial<AdmissionAttributes> & { group?: string; plural?: string };

function attrs(a: A): AdmissionAttributes {
  const { group = '', plural = 'pods', ...rest } = a;
  return { operation: 'CREATE', def: def(group, plural), version: 'v1', namespace: '', name: '', subresource: '', user: nodeUser('n1'), dryRun: false, ...rest };
}

async function run(a: AdmissionAttributes): Promise<string> {
  try {
    await nodeRestrictionPlugin(src).validate!(a);
    return 'ok';
  } catch (err) {
    if (err instanceof StatusError) return `${err.status.reason}: ${err.status.message}`;
    throw err;
  }
}

// ---- cases ------------------------------------------------------------------------------------

interface Case {
  name: string;
  attrs: A;
  want: string;
}

const podCreate = (p: Pod, name = p.metadata.name ?? ''): A => ({ operation: 'CREATE', namespace: 'ns', name, object: obj(p) });
const nodeUpdate = (name: string, now: Node, old: Node, subresource = ''): A => ({ plural: 'nodes', operation: 'UPDATE', name, subresource, object: obj(now), oldObject: obj(old) });

const cases: Case[] = [
  // who is restricted
  { name: 'users that are not nodes are not restricted', attrs: { user: { username: 'alice', groups: ['system:authenticated'] }, ...podCreate(pod('x', 'n2')) }, want: 'ok' },
  { name: 'a node user without a name is refused', attrs: { user: { username: 'system:node:', groups: ['system:nodes'] }, ...podCreate(pod('x', 'n1')) }, want: 'Forbidden: pods "x" is forbidden: could not determine node from user "system:node:"' },
  { name: 'kinds NodeRestriction does not know are not restricted', attrs: { plural: 'events', operation: 'CREATE', namespace: 'ns', name: 'e', object: { metadata: { name: 'e' } } }, want: 'ok' },

  // mirror pods
  { name: 'a node creates a mirror pod bound to itself', attrs: podCreate(mirror()), want: 'ok' },
  { name: 'a node cannot create a regular pod', attrs: podCreate(pod('p', 'n1')), want: 'Forbidden: pods "p" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods' },
  { name: 'a pod without a name is named by its generateName', attrs: podCreate(pod('', 'n1', {}, { name: undefined, generateName: 'gen-' }), ''), want: 'Forbidden: pods "gen-" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods' },
  { name: 'a node cannot create a mirror pod for another node', attrs: podCreate(mirror({ nodeName: 'n2' })), want: 'Forbidden: pods "static-n1" is forbidden: node "n1" can only create pods with spec.nodeName set to itself' },
  { name: 'a mirror pod needs an owner reference', attrs: podCreate(mirror({}, { ownerReferences: [] })), want: 'Forbidden: pods "static-n1" is forbidden: node "n1" can only create pods with an owner reference set to itself' },
  {
    name: 'a mirror pod has a single owner reference',
    attrs: podCreate(mirror({}, { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'node-uid-1', controller: true }, { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'x' }] })),
    want: 'Forbidden: pods "static-n1" is forbidden: node "n1" can only create pods with a single owner reference set to itself',
  },
  { name: 'the owner must be the node itself', attrs: podCreate(mirror({}, { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n2', uid: 'node-uid-1', controller: true }] })), want: 'Forbidden: pods "static-n1" is forbidden: node "n1" can only create pods with an owner reference set to itself' },
  { name: 'the owner must be a controller reference', attrs: podCreate(mirror({}, { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'node-uid-1' }] })), want: 'Forbidden: pods "static-n1" is forbidden: node "n1" can only create pods with a controller owner reference set to itself' },
  {
    name: 'the owner must not block deletion',
    attrs: podCreate(mirror({}, { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'node-uid-1', controller: true, blockOwnerDeletion: true }] })),
    want: 'Forbidden: pods "static-n1" is forbidden: node "n1" must not set blockOwnerDeletion on an owner reference',
  },
  { name: "the owner uid must be the node's", attrs: podCreate(mirror({}, { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'stale', controller: true }] })), want: 'Forbidden: pods "static-n1" is forbidden: node n1 UID mismatch: expected stale got node-uid-1' },
  { name: 'a mirror pod cannot use a service account', attrs: podCreate(mirror({ serviceAccountName: 'default' })), want: 'Forbidden: pods "static-n1" is forbidden: node "n1" can not create pods that reference a service account' },
  { name: 'a mirror pod cannot use secrets', attrs: podCreate(mirror({ volumes: [{ name: 'v', secret: { secretName: 's' } }] })), want: 'Forbidden: pods "static-n1" is forbidden: node "n1" can not create pods that reference secrets' },
  { name: 'a mirror pod cannot use configmaps', attrs: podCreate(mirror({ containers: [{ name: 'c', envFrom: [{ configMapRef: { name: 'cm' } }] }] })), want: 'Forbidden: pods "static-n1" is forbidden: node "n1" can not create pods that reference configmaps' },
  {
    name: 'a mirror pod cannot use cluster trust bundles',
    attrs: podCreate(mirror({ volumes: [{ name: 'v', projected: { sources: [{ clusterTrustBundle: { path: 'ca.pem', name: 'b' } }] } }] })),
    want: 'Forbidden: pods "static-n1" is forbidden: node "n1" can not create pods that reference clustertrustbundles',
  },
  { name: 'a mirror pod cannot use claims', attrs: podCreate(mirror({ volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'c' } }] })), want: 'Forbidden: pods "static-n1" is forbidden: node "n1" can not create pods that reference persistentvolumeclaims' },

  // pod delete, update, status, eviction, other subresources
  { name: 'a node deletes a pod bound to itself', attrs: { operation: 'DELETE', namespace: 'ns', name: 'mine', oldObject: obj(existing['ns/mine']) }, want: 'ok' },
  { name: "a node cannot delete another node's pod", attrs: { operation: 'DELETE', namespace: 'ns', name: 'theirs', oldObject: obj(existing['ns/theirs']) }, want: 'Forbidden: pods "theirs" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself' },
  { name: 'a delete without the old object reads the pod from the source', attrs: { operation: 'DELETE', namespace: 'ns', name: 'theirs' }, want: 'Forbidden: pods "theirs" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself' },
  { name: 'a node cannot update a pod', attrs: { operation: 'UPDATE', namespace: 'ns', name: 'mine', object: obj(existing['ns/mine']), oldObject: obj(existing['ns/mine']) }, want: 'Forbidden: pods "mine" is forbidden: unexpected operation "UPDATE", node "n1" can only create and delete mirror pods' },
  { name: 'a node updates the status of its pod', attrs: { operation: 'UPDATE', subresource: 'status', namespace: 'ns', name: 'mine', object: obj({ ...existing['ns/mine'], status: { phase: 'Running' } }), oldObject: obj(existing['ns/mine']) }, want: 'ok' },
  { name: "a node cannot update another node's pod status", attrs: { operation: 'UPDATE', subresource: 'status', namespace: 'ns', name: 'theirs', object: obj(existing['ns/theirs']), oldObject: obj(existing['ns/theirs']) }, want: 'Forbidden: pods "theirs" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself' },
  {
    name: 'a node cannot change labels through pod status',
    attrs: { operation: 'UPDATE', subresource: 'status', namespace: 'ns', name: 'mine', object: obj(pod('mine', 'n1', {}, { labels: { a: 'b' } })), oldObject: obj(existing['ns/mine']) },
    want: 'Forbidden: pods "mine" is forbidden: node "n1" cannot update labels through pod status',
  },
  {
    name: 'a node cannot change resource claim statuses',
    attrs: { operation: 'UPDATE', subresource: 'status', namespace: 'ns', name: 'mine', object: obj({ ...existing['ns/mine'], status: { resourceClaimStatuses: [{ name: 'x', resourceClaimName: 'y' }] } }), oldObject: obj(existing['ns/mine']) },
    want: 'Forbidden: pods "mine" is forbidden: node "n1" cannot update resource claim statues',
  },
  { name: 'a node evicts its pod', attrs: { operation: 'CREATE', subresource: 'eviction', namespace: 'ns', name: 'mine', object: { metadata: { name: 'mine' } } }, want: 'ok' },
  { name: "a node cannot evict another node's pod", attrs: { operation: 'CREATE', subresource: 'eviction', namespace: 'ns', name: 'theirs', object: { metadata: { name: 'theirs' } } }, want: 'Forbidden: pods "theirs" is forbidden: node n1 can only evict pods with spec.nodeName set to itself' },
  { name: 'an eviction names its pod in the body when the request does not', attrs: { operation: 'CREATE', subresource: 'eviction', namespace: 'ns', name: '', object: { metadata: { name: 'theirs' } } }, want: 'Forbidden: pods "theirs" is forbidden: node n1 can only evict pods with spec.nodeName set to itself' },
  { name: 'an eviction without any pod name is refused', attrs: { operation: 'CREATE', subresource: 'eviction', namespace: 'ns', name: '', object: { metadata: {} } }, want: 'Forbidden: pods "Unknown" is forbidden: could not determine pod from request data' },
  { name: 'evicting a pod that does not exist is NotFound', attrs: { operation: 'CREATE', subresource: 'eviction', namespace: 'ns', name: 'gone', object: { metadata: {} } }, want: 'NotFound: pod "gone" not found' },
  { name: 'other pod subresources are refused', attrs: { operation: 'CREATE', subresource: 'binding', namespace: 'ns', name: 'mine', object: { metadata: { name: 'mine' } } }, want: 'Forbidden: pods "mine" is forbidden: unexpected pod subresource "binding", only \'status\' and \'eviction\' are allowed' },

  // nodes
  { name: 'a node registers itself', attrs: { plural: 'nodes', operation: 'CREATE', name: 'n1', object: obj({ metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1', 'kubernetes.io/os': 'linux', 'node.kubernetes.io/instance-type': 'x', 'example.com/team': 'a' } } }) }, want: 'ok' },
  { name: 'a node cannot create another node', attrs: { plural: 'nodes', operation: 'CREATE', name: 'n2', object: obj({ metadata: { name: 'n2' } }) }, want: 'Forbidden: nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"' },
  { name: 'a node updates its own node', attrs: nodeUpdate('n1', { ...n1, metadata: { ...n1.metadata, labels: { ...n1.metadata.labels, 'kubelet.kubernetes.io/x': 'y' } } }, n1), want: 'ok' },
  { name: "a node cannot update another node's status", attrs: nodeUpdate('n2', n1, n1, 'status'), want: 'Forbidden: nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"' },
  { name: 'a node cannot delete another node', attrs: { plural: 'nodes', operation: 'DELETE', name: 'n2', oldObject: obj(n1) }, want: 'Forbidden: nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"' },
  { name: 'a node cannot change its taints', attrs: nodeUpdate('n1', { ...n1, spec: { taints: [] } }, n1), want: 'Forbidden: nodes "n1" is forbidden: node "n1" is not allowed to modify taints' },
  { name: 'an absent and an empty taint list are the same', attrs: nodeUpdate('n1', { ...n1, spec: {} }, { ...n1, spec: { taints: [] } }), want: 'ok' },
  {
    name: 'a node cannot register with restricted labels',
    attrs: { plural: 'nodes', operation: 'CREATE', name: 'n1', object: obj({ metadata: { name: 'n1', labels: { 'node-role.kubernetes.io/control-plane': 'true', 'node-restriction.kubernetes.io/pool': 'a', 'kubernetes.io/hostname': 'n1' } } }) },
    want: 'Forbidden: nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: node-restriction.kubernetes.io/pool, node-role.kubernetes.io/control-plane',
  },
  {
    name: 'a node cannot remove or change restricted labels',
    attrs: nodeUpdate('n1', { ...n1, metadata: { ...n1.metadata, labels: { 'kubernetes.io/hostname': 'n1', 'example.k8s.io/x': '2' } } }, { ...n1, metadata: { ...n1.metadata, labels: { 'kubernetes.io/hostname': 'n1', 'example.k8s.io/x': '1', 'node-role.kubernetes.io/worker': '' } } }),
    want: 'Forbidden: nodes "n1" is forbidden: is not allowed to modify labels: example.k8s.io/x, node-role.kubernetes.io/worker',
  },
  { name: 'a node cannot register with a configSource', attrs: { plural: 'nodes', operation: 'CREATE', name: 'n1', object: obj({ metadata: { name: 'n1' }, spec: { configSource: { configMap: { name: 'c', namespace: 'kube-system', kubeletConfigKey: 'k' } } } }) }, want: 'Forbidden: nodes "n1" is forbidden: node "n1" is not allowed to create pods with a non-nil configSource' },
  {
    name: 'a node cannot set a new configSource',
    attrs: nodeUpdate('n1', { ...n1, spec: { ...n1.spec, configSource: { configMap: { name: 'c', namespace: 'kube-system', kubeletConfigKey: 'k' } } } }, n1),
    want: 'Forbidden: nodes "n1" is forbidden: node "n1" is not allowed to update configSource to a new non-nil configSource',
  },

  // leases and CSINodes
  { name: 'a node creates its own lease', attrs: { group: 'coordination.k8s.io', plural: 'leases', operation: 'CREATE', namespace: 'kube-node-lease', name: 'n1', object: { metadata: { name: 'n1' } } }, want: 'ok' },
  { name: 'a node renews its own lease', attrs: { group: 'coordination.k8s.io', plural: 'leases', operation: 'UPDATE', namespace: 'kube-node-lease', name: 'n1', object: { metadata: { name: 'n1' } }, oldObject: { metadata: { name: 'n1' } } }, want: 'ok' },
  { name: "a node cannot create another node's lease", attrs: { group: 'coordination.k8s.io', plural: 'leases', operation: 'CREATE', namespace: 'kube-node-lease', name: 'n2', object: { metadata: { name: 'n2' } } }, want: 'Forbidden: leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node' },
  { name: "a node cannot delete another node's lease", attrs: { group: 'coordination.k8s.io', plural: 'leases', operation: 'DELETE', namespace: 'kube-node-lease', name: 'n2' }, want: 'Forbidden: leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node' },
  { name: 'a node cannot write leases elsewhere', attrs: { group: 'coordination.k8s.io', plural: 'leases', operation: 'UPDATE', namespace: 'kube-system', name: 'n1', object: { metadata: { name: 'n1' } } }, want: 'Forbidden: leases.coordination.k8s.io "n1" is forbidden: can only access leases in the "kube-node-lease" system namespace' },
  { name: "a node cannot create another node's CSINode", attrs: { group: 'storage.k8s.io', plural: 'csinodes', operation: 'CREATE', name: 'n2', object: { metadata: { name: 'n2' } } }, want: 'Forbidden: csinodes.storage.k8s.io "n2" is forbidden: can only access CSINode with the same name as the requesting node' },
  { name: 'a node updates its own CSINode', attrs: { group: 'storage.k8s.io', plural: 'csinodes', operation: 'UPDATE', name: 'n1', object: { metadata: { name: 'n1' } }, oldObject: { metadata: { name: 'n1' } } }, want: 'ok' },

  // persistent volume claims
  {
    name: "a node updates a claim's capacity and conditions",
    attrs: { plural: 'persistentvolumeclaims', operation: 'UPDATE', subresource: 'status', namespace: 'ns', name: 'c', object: obj({ metadata: { name: 'c', resourceVersion: '2' }, status: { phase: 'Bound', capacity: { storage: '2Gi' }, conditions: [{ type: 'Resizing', status: 'True' }] } }), oldObject: obj({ metadata: { name: 'c', resourceVersion: '1' }, status: { phase: 'Bound', capacity: { storage: '1Gi' } } }) },
    want: 'ok',
  },
  {
    name: "a node cannot change a claim's other fields through status",
    attrs: { plural: 'persistentvolumeclaims', operation: 'UPDATE', subresource: 'status', namespace: 'ns', name: 'c', object: obj({ metadata: { name: 'c', labels: { a: 'b' } }, status: { phase: 'Lost' } }), oldObject: obj({ metadata: { name: 'c' }, status: { phase: 'Bound' } }) },
    want: 'Forbidden: persistentvolumeclaims "c" is forbidden: node "n1" is not allowed to update fields other than status.quantity and status.conditions: metadata.labels, status.phase',
  },
  { name: 'a node cannot update a claim', attrs: { plural: 'persistentvolumeclaims', operation: 'UPDATE', namespace: 'ns', name: 'c', object: { metadata: { name: 'c' } }, oldObject: { metadata: { name: 'c' } } }, want: 'Forbidden: persistentvolumeclaims "c" is forbidden: may only update PVC status' },

  // service account tokens
  { name: 'a node requests a token bound to its pod', attrs: { plural: 'serviceaccounts', operation: 'CREATE', subresource: 'token', namespace: 'ns', name: 'sa', object: obj({ metadata: {}, spec: { audiences: [], boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'mine', uid: 'uid-mine' } } }) }, want: 'ok' },
  { name: 'a token must be bound to a pod', attrs: { plural: 'serviceaccounts', operation: 'CREATE', subresource: 'token', namespace: 'ns', name: 'sa', object: obj({ metadata: {}, spec: { audiences: [] } }) }, want: 'Forbidden: serviceaccounts "sa" is forbidden: node requested token not bound to a pod' },
  { name: 'a token binding needs the pod uid', attrs: { plural: 'serviceaccounts', operation: 'CREATE', subresource: 'token', namespace: 'ns', name: 'sa', object: obj({ metadata: {}, spec: { audiences: [], boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'mine' } } }) }, want: 'Forbidden: serviceaccounts "sa" is forbidden: node requested token with a pod binding without a uid' },
  {
    name: 'a token bound to a recreated pod is refused',
    attrs: { plural: 'serviceaccounts', operation: 'CREATE', subresource: 'token', namespace: 'ns', name: 'sa', object: obj({ metadata: {}, spec: { audiences: [], boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'mine', uid: 'old' } } }) },
    want: 'Forbidden: serviceaccounts "sa" is forbidden: the UID in the bound object reference (old) does not match the UID in record. The object might have been deleted and then recreated',
  },
  {
    name: "a token bound to another node's pod is refused",
    attrs: { plural: 'serviceaccounts', operation: 'CREATE', subresource: 'token', namespace: 'ns', name: 'sa', object: obj({ metadata: {}, spec: { audiences: [], boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'theirs', uid: 'uid-theirs' } } }) },
    want: 'Forbidden: serviceaccounts "sa" is forbidden: node requested token bound to a pod scheduled on a different node',
  },

  // resource slices
  { name: 'a node creates a slice for itself', attrs: { group: 'resource.k8s.io', plural: 'resourceslices', operation: 'CREATE', name: 's', object: obj({ metadata: { name: 's' }, spec: { nodeName: 'n1' } }) }, want: 'ok' },
  { name: 'a node cannot delete a slice of another node', attrs: { group: 'resource.k8s.io', plural: 'resourceslices', operation: 'DELETE', name: 's', oldObject: obj({ metadata: { name: 's' }, spec: { nodeName: 'n2' } }) }, want: 'Forbidden: resourceslices.resource.k8s.io "s" is forbidden: can only delete ResourceSlice with the same NodeName as the requesting node' },
];

for (const c of cases) {
  test(c.name, async () => {
    assert.equal(await run(attrs(c.attrs)), c.want);
  });
}

test('the plugin is named NodeRestriction and only validates', () => {
  const p = nodeRestrictionPlugin(src);
  assert.equal(p.name, 'NodeRestriction');
  assert.equal(p.admit, undefined);
});

test("a mirror pod whose node is missing is NotFound (the owner's uid cannot be checked)", async () => {
  const p = nodeRestrictionPlugin({ ...src, node: () => undefined });
  await assert.rejects(async () => p.validate!(attrs(podCreate(mirror()))), (err) => isNotFound(err) && (err as StatusError).status.message === 'node "n1" not found');
});

test('kubelet labels: kubernetes.io and k8s.io keys outside the kubelet set are refused, others pass', () => {
  assert.deepEqual(
    forbiddenNodeLabels(['kubernetes.io/hostname', 'topology.kubernetes.io/zone', 'a.node.kubernetes.io/x', 'kubelet.kubernetes.io/y', 'example.com/z', 'kubernetes.io/role', 'foo.k8s.io/w', 'x.node-restriction.kubernetes.io/v']),
    ['foo.k8s.io/w', 'kubernetes.io/role', 'x.node-restriction.kubernetes.io/v'],
  );
});

test('node CSRs: a kubelet signer request must carry the node\'s own CN', async () => {
  const csr = async (cn: string, signerName: string): Promise<A> => {
    const { csrPem } = await createCsr({ subject: { commonName: cn, organizations: ['system:nodes'] } });
    return { group: 'certificates.k8s.io', plural: 'certificatesigningrequests', operation: 'CREATE', name: 'csr-1', object: obj({ metadata: { name: 'csr-1' }, spec: { request: Buffer.from(csrPem).toString('base64'), signerName } }) };
  };
  assert.equal(await run(attrs(await csr('system:node:n1', 'kubernetes.io/kube-apiserver-client-kubelet'))), 'ok');
  assert.equal(await run(attrs(await csr('system:node:n1', 'kubernetes.io/kubelet-serving'))), 'ok');
  assert.equal(
    await run(attrs(await csr('system:node:n2', 'kubernetes.io/kubelet-serving'))),
    'Forbidden: certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: can only create a node CSR with CN=system:node:n1',
  );
  assert.equal(await run(attrs(await csr('someone', 'example.com/other'))), 'ok', 'other signers are not checked');
  const bad: A = { group: 'certificates.k8s.io', plural: 'certificatesigningrequests', operation: 'CREATE', name: 'csr-1', object: obj({ metadata: { name: 'csr-1' }, spec: { request: Buffer.from('junk').toString('base64'), signerName: 'kubernetes.io/kubelet-serving' } }) };
  assert.equal(await run(attrs(bad)), 'Forbidden: certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: unable to parse csr: PEM block type must be CERTIFICATE REQUEST');
  const insecure = nodeRestrictionPlugin(src, { allowInsecureKubeletCertificateSigningRequests: true });
  await insecure.validate!(attrs(await csr('system:node:n2', 'kubernetes.io/kubelet-serving')));
});

test('CONNECT requests are not restricted', async () => {
  assert.equal(await run(attrs({ operation: 'CONNECT', subresource: 'exec', namespace: 'ns', name: 'theirs', object: { metadata: {} } })), 'ok');
});

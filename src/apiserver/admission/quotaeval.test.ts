import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, PersistentVolumeClaim, Pod, ResourceQuota, Service } from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import {
  addAmount,
  computeUsage,
  evaluatorFor,
  formatAmount,
  parseAmount,
  parseObjectCountName,
  podEvaluator,
  prettyPrint,
  pvcEvaluator,
  quotaMatches,
  resourceList,
  serviceEvaluator,
  subtractNonNegative,
  usageOf,
  type NamespaceLister,
} from './quotaeval.ts';

const obj = <T>(o: T) => o as unknown as KubeObject;
const now = Date.parse('2025-01-01T00:00:00Z');

// ---- quantities ---------------------------------------------------------------------------------

const canonical: [string, string][] = [
  ['1', '1'],
  ['10', '10'],
  ['1000', '1k'],
  ['1500', '1500'],
  ['0.5', '500m'],
  ['1.5', '1500m'],
  ['1000m', '1'],
  ['100m', '100m'],
  ['1Gi', '1Gi'],
  ['1024Mi', '1Gi'],
  ['1.5Gi', '1536Mi'],
  ['1536', '1536'],
  ['512Ki', '512Ki'],
  ['1e3', '1e3'],
  ['0', '0'],
  ['0.1n', '1n'],
  ['-1500m', '-1500m'],
];
for (const [input, want] of canonical) test(`quantity ${input} prints as ${want}`, () => assert.equal(formatAmount(parseAmount(input)!), want));

test('unparsable quantities are undefined', () => {
  for (const q of ['', 'abc', '1.2.3', '1Gb', {}, Infinity]) assert.equal(parseAmount(q), undefined, String(q));
});

test('a sum keeps the left format unless the left side is zero (Quantity.Add)', () => {
  const gi = parseAmount('1Gi')!;
  const dec = parseAmount('1000')!;
  assert.equal(formatAmount(addAmount(gi, dec)), '1073742824');
  assert.equal(formatAmount(addAmount(parseAmount('0')!, gi)), '1Gi');
  assert.equal(formatAmount(addAmount(parseAmount('500m')!, parseAmount('1500m')!)), '2');
});

test('subtraction never goes below zero and keeps names of both sides', () => {
  const d = subtractNonNegative(usageOf({ a: '3', b: '1' }), usageOf({ a: '1', b: '2', c: '1' }));
  assert.deepEqual(resourceList(d), { a: '2', b: '0', c: '0' });
});

test('prettyPrint sorts and canonicalizes', () => assert.equal(prettyPrint(usageOf({ 'requests.memory': '1024Mi', 'requests.cpu': '1000m' })), 'requests.cpu=1,requests.memory=1Gi'));

test('object count names', () => {
  assert.deepEqual(parseObjectCountName('count/deployments.apps'), { group: 'apps', resource: 'deployments' });
  assert.deepEqual(parseObjectCountName('count/pods'), { group: '', resource: 'pods' });
  assert.equal(parseObjectCountName('pods'), undefined);
});

// ---- pods ---------------------------------------------------------------------------------------

const ctr = (name: string, requests?: Record<string, string>, limits?: Record<string, string>, x: Partial<Container> = {}): Container => ({ name, image: 'i', resources: { requests, limits }, ...x });
function pod(containers: Container[], x: Partial<NonNullable<Pod['spec']>> = {}, status?: Pod['status'], meta: Partial<Pod['metadata']> = {}): Pod {
  return { metadata: { name: 'p', namespace: 'ns', ...meta }, spec: { containers, ...x }, status };
}
const usage = (p: Pod | Service | PersistentVolumeClaim, ev = podEvaluator) => resourceList(ev.usage(obj(p), now));

const podUsages: { name: string; pod: Pod; want: Record<string, string> }[] = [
  {
    name: 'requests and limits count under requests.*, limits.* and the legacy names',
    pod: pod([ctr('a', { cpu: '500m', memory: '128Mi' }, { cpu: '1', memory: '256Mi' }), ctr('b', { cpu: '500m' })]),
    want: { 'count/pods': '1', cpu: '1', 'limits.cpu': '1', 'limits.memory': '256Mi', memory: '128Mi', pods: '1', 'requests.cpu': '1', 'requests.memory': '128Mi' },
  },
  {
    name: 'an init container counts at its peak, a sidecar beside the containers',
    pod: pod([ctr('a', { cpu: '1' })], { initContainers: [ctr('init', { cpu: '3' }), ctr('side', { cpu: '500m' }, undefined, { restartPolicy: 'Always' })] }),
    want: { 'count/pods': '1', cpu: '3', pods: '1', 'requests.cpu': '3' },
  },
  {
    name: 'overhead is added to requests',
    pod: pod([ctr('a', { cpu: '1' }, { cpu: '2' })], { overhead: { cpu: '250m' } }),
    want: { 'count/pods': '1', cpu: '1250m', 'limits.cpu': '2250m', pods: '1', 'requests.cpu': '1250m' },
  },
  {
    name: 'extended resources and hugepages count as requests.<name>',
    pod: pod([ctr('a', { 'example.com/gpu': '2', 'hugepages-2Mi': '4Mi' })]),
    want: { 'count/pods': '1', 'hugepages-2Mi': '4Mi', pods: '1', 'requests.example.com/gpu': '2', 'requests.hugepages-2Mi': '4Mi' },
  },
  { name: 'a finished pod counts only as an object', pod: pod([ctr('a', { cpu: '1' })], {}, { phase: 'Succeeded' }), want: { 'count/pods': '1' } },
  { name: 'a failed pod counts only as an object', pod: pod([ctr('a', { cpu: '1' })], {}, { phase: 'Failed' }), want: { 'count/pods': '1' } },
  {
    name: 'a pod past its deletion grace period counts only as an object',
    pod: pod([ctr('a', { cpu: '1' })], {}, undefined, { deletionTimestamp: '2024-12-31T23:59:00Z', deletionGracePeriodSeconds: 30 }),
    want: { 'count/pods': '1' },
  },
  {
    name: 'a pod within its deletion grace period still counts',
    pod: pod([ctr('a', { cpu: '1' })], {}, undefined, { deletionTimestamp: '2024-12-31T23:59:50Z', deletionGracePeriodSeconds: 30 }),
    want: { 'count/pods': '1', cpu: '1', pods: '1', 'requests.cpu': '1' },
  },
];
for (const c of podUsages) test(`pod usage: ${c.name}`, () => assert.deepEqual(usage(c.pod), c.want));

test('pods match quota names they charge only', () => {
  assert.deepEqual(podEvaluator.matchingResources(['requests.cpu', 'services', 'requests.example.com/gpu', 'requests.storage', 'hugepages-1Gi']).sort(), ['hugepages-1Gi', 'requests.cpu', 'requests.example.com/gpu']);
});

const must: { name: string; required: string[]; pod: Pod; want?: string }[] = [
  { name: 'a container without a cpu request', required: ['requests.cpu', 'pods'], pod: pod([ctr('b'), ctr('a', { cpu: '1' })]), want: 'must specify requests.cpu for: b' },
  {
    name: 'several resources and containers, sorted',
    required: ['limits.memory', 'requests.cpu'],
    pod: pod([ctr('z'), ctr('a')], { initContainers: [ctr('init', { cpu: '1' })] }),
    want: 'must specify limits.memory for: a,init,z; requests.cpu for: a,z',
  },
  { name: 'the legacy name cpu is met by a cpu request', required: ['cpu'], pod: pod([ctr('a', { cpu: '1' })]) },
  { name: 'other names never need stating', required: ['requests.ephemeral-storage', 'pods'], pod: pod([ctr('a')]) },
];
for (const c of must) test(`must specify: ${c.name}`, () => assert.equal(podEvaluator.constraints(c.required, obj(c.pod)), c.want));

// ---- scopes -------------------------------------------------------------------------------------

const quota = (spec: ResourceQuota['spec']): ResourceQuota => ({ metadata: { name: 'q', namespace: 'ns' }, spec });
const best = pod([ctr('a')]);
const burst = pod([ctr('a', { cpu: '1' })], { activeDeadlineSeconds: 10, priorityClassName: 'high' });
const crossNs = pod([ctr('a')], { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'k', namespaces: ['other'] }] } } });
const scopeCases: { name: string; spec: ResourceQuota['spec']; pod: Pod; want: boolean }[] = [
  { name: 'no scope matches every pod', spec: { hard: { pods: '1' } }, pod: best, want: true },
  { name: 'BestEffort matches a pod without requests', spec: { hard: { pods: '1' }, scopes: ['BestEffort'] }, pod: best, want: true },
  { name: 'BestEffort does not match a burstable pod', spec: { hard: { pods: '1' }, scopes: ['BestEffort'] }, pod: burst, want: false },
  { name: 'NotBestEffort matches a burstable pod', spec: { hard: { pods: '1' }, scopes: ['NotBestEffort'] }, pod: burst, want: true },
  { name: 'Terminating matches a pod with activeDeadlineSeconds', spec: { hard: { pods: '1' }, scopes: ['Terminating'] }, pod: burst, want: true },
  { name: 'NotTerminating does not', spec: { hard: { pods: '1' }, scopes: ['NotTerminating'] }, pod: burst, want: false },
  { name: 'scopes are all required', spec: { hard: { pods: '1' }, scopes: ['NotBestEffort', 'NotTerminating'] }, pod: burst, want: false },
  { name: 'PriorityClass In', spec: { hard: { pods: '1' }, scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }] } }, pod: burst, want: true },
  { name: 'PriorityClass In, another class', spec: { hard: { pods: '1' }, scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['low'] }] } }, pod: burst, want: false },
  { name: 'PriorityClass NotIn matches a pod without a class', spec: { hard: { pods: '1' }, scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'NotIn', values: ['high'] }] } }, pod: best, want: true },
  { name: 'PriorityClass Exists', spec: { hard: { pods: '1' }, scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'Exists' }] } }, pod: best, want: false },
  { name: 'PriorityClass DoesNotExist', spec: { hard: { pods: '1' }, scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'DoesNotExist' }] } }, pod: best, want: true },
  { name: 'CrossNamespacePodAffinity', spec: { hard: { pods: '1' }, scopes: ['CrossNamespacePodAffinity'] }, pod: crossNs, want: true },
  { name: 'CrossNamespacePodAffinity, same-namespace affinity', spec: { hard: { pods: '1' }, scopes: ['CrossNamespacePodAffinity'] }, pod: best, want: false },
  { name: 'a quota naming nothing pods use', spec: { hard: { services: '1' } }, pod: best, want: false },
];
for (const c of scopeCases) {
  test(`scope: ${c.name}`, () => {
    const q = quota(c.spec);
    assert.equal(quotaMatches(podEvaluator, q, Object.keys(q.spec?.hard ?? {}), obj(c.pod)), c.want);
  });
}

test('a quota with scopes never covers object counts or services', () => {
  const q = quota({ hard: { 'count/configmaps': '1', services: '1' }, scopes: ['BestEffort'] });
  assert.equal(quotaMatches(evaluatorFor('', 'configmaps'), q, ['count/configmaps'], obj({ metadata: { name: 'c' } })), false);
  assert.equal(quotaMatches(serviceEvaluator, q, ['services'], obj({ metadata: { name: 's' } })), false);
});

// ---- services and claims -------------------------------------------------------------------------

const svc = (spec: Service['spec']): Service => ({ metadata: { name: 's', namespace: 'ns' }, spec });
const svcCases: { name: string; svc: Service; want: Record<string, string> }[] = [
  { name: 'ClusterIP', svc: svc({ ports: [{ port: 80 }] }), want: { 'count/services': '1', services: '1', 'services.loadbalancers': '0', 'services.nodeports': '0' } },
  { name: 'NodePort counts its ports', svc: svc({ type: 'NodePort', ports: [{ port: 80 }, { port: 443 }] }), want: { 'count/services': '1', services: '1', 'services.loadbalancers': '0', 'services.nodeports': '2' } },
  { name: 'LoadBalancer counts a balancer and its ports', svc: svc({ type: 'LoadBalancer', ports: [{ port: 80 }] }), want: { 'count/services': '1', services: '1', 'services.loadbalancers': '1', 'services.nodeports': '1' } },
  {
    name: 'LoadBalancer without node port allocation counts only set node ports',
    svc: svc({ type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }, { port: 81, nodePort: 30001 }] }),
    want: { 'count/services': '1', services: '1', 'services.loadbalancers': '1', 'services.nodeports': '1' },
  },
];
for (const c of svcCases) test(`service usage: ${c.name}`, () => assert.deepEqual(usage(c.svc, serviceEvaluator), c.want));

const pvc = (storage: string, x: Partial<NonNullable<PersistentVolumeClaim['spec']>> = {}, status?: PersistentVolumeClaim['status']): PersistentVolumeClaim => ({
  metadata: { name: 'c', namespace: 'ns' },
  spec: { resources: { requests: { storage } }, ...x },
  status,
});
test('claim usage: storage, rounded up to whole bytes, also per storage class', () => {
  assert.deepEqual(usage(pvc('1500m', { storageClassName: 'gold' }), pvcEvaluator), {
    'count/persistentvolumeclaims': '1',
    'gold.storageclass.storage.k8s.io/persistentvolumeclaims': '1',
    'gold.storageclass.storage.k8s.io/requests.storage': '2',
    persistentvolumeclaims: '1',
    'requests.storage': '2',
  });
});
test('claim usage: a larger allocated size counts', () => {
  assert.equal(usage(pvc('1Gi', {}, { allocatedResources: { storage: '2Gi' } }), pvcEvaluator)['requests.storage'], '2Gi');
});
test('claims match storage-class names', () => {
  assert.deepEqual(pvcEvaluator.matchingResources(['gold.storageclass.storage.k8s.io/requests.storage', 'requests.storage', 'pods', 'count/persistentvolumeclaims']), [
    'gold.storageclass.storage.k8s.io/requests.storage',
    'requests.storage',
    'count/persistentvolumeclaims',
  ]);
});

// ---- computeUsage -------------------------------------------------------------------------------

test('computeUsage sums matching objects per name, zero when there are none', () => {
  const pods = [pod([ctr('a', { cpu: '1' })]), pod([ctr('a', { cpu: '500m' })], {}, { phase: 'Succeeded' }), pod([ctr('a', { cpu: '2' })])];
  const lister: NamespaceLister = (group, resource) => (resource === 'pods' ? pods.map(obj) : resource === 'configmaps' ? [obj({ metadata: { name: 'x' } })] : []);
  const q = quota({ hard: { 'requests.cpu': '10', pods: '5', 'count/pods': '5', configmaps: '3', services: '2', 'count/widgets.example.com': '1' } });
  const got = computeUsage(q, lister, now);
  assert.deepEqual(resourceList(got.used), { configmaps: '1', 'count/pods': '3', 'count/widgets.example.com': '0', pods: '2', 'requests.cpu': '3', services: '0' });
});

test('computeUsage leaves out what cannot be listed and says so', () => {
  const q = quota({ hard: { pods: '5', configmaps: '3' } });
  const got = computeUsage(q, (_g, r) => (r === 'pods' ? undefined : []), now);
  assert.deepEqual(resourceList(got.used), { configmaps: '0' });
  assert.deepEqual(got.unlisted, [{ group: '', resource: 'pods' }]);
});

test('computeUsage honours scopes', () => {
  const pods = [best, burst];
  const q = quota({ hard: { pods: '5' }, scopes: ['BestEffort'] });
  assert.deepEqual(resourceList(computeUsage(q, () => pods.map(obj), now).used), { pods: '1' });
});

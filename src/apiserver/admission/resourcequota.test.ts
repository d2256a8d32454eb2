/**
 * ResourceQuota admission through the plugin, against an in-memory quota store whose status
 * writes are compare-and-swap on resourceVersion (as the API server's), with a cache that can
 * lag behind the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, PersistentVolumeClaim, Pod, ResourceQuota, Service } from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import type { Operation, ResourceDef } from '../../api/resource.ts';
import { builtinResources } from '../../api/groups/index.ts';
import { isConflict, isForbidden, staleConflict, StatusError } from '../../api/errors.ts';
import { resourceQuotaPlugin, type ResourceQuotaDeps } from './resourcequota.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './types.ts';

// ---- fixtures ---------------------------------------------------------------------------------

function def(group: string, plural: string): ResourceDef {
  const d = builtinResources.find((r) => r.group === group && r.plural === plural);
  assert.ok(d, `${group}/${plural} is served`);
  return d;
}

const user = { username: 'alice', groups: ['system:authenticated'] };
const obj = <T>(o: T) => o as unknown as KubeObject;

function attrs(group: string, plural: string, o: { metadata: { name?: string; generateName?: string; namespace?: string } }, x: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return {
    operation: 'CREATE' as Operation,
    def: def(group, plural),
    version: 'v1',
    namespace: 'team-alpha',
    name: o.metadata.name ?? '',
    subresource: '',
    object: obj(o),
    user,
    dryRun: false,
    ...x,
  };
}

const ctr = (name: string, requests?: Record<string, string>, limits?: Record<string, string>): Container => ({ name, image: 'nginx', resources: { requests, limits } });
const pod = (name: string, containers: Container[], spec: Partial<NonNullable<Pod['spec']>> = {}): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'team-alpha' },
  spec: { containers, ...spec },
});
const cpuPod = (name: string, cpu = '1') => pod(name, [ctr('app', { cpu })]);

/** A quota as the controller leaves it: status.hard = spec.hard, used measured (zero here). */
function quota(name: string, hard: Record<string, string>, spec: Partial<NonNullable<ResourceQuota['spec']>> = {}, used?: Record<string, string>): ResourceQuota {
  return {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: { name, namespace: 'team-alpha', resourceVersion: '1' },
    spec: { hard, ...spec },
    status: { hard, used: used ?? Object.fromEntries(Object.keys(hard).map((k) => [k, '0'])) },
  };
}

/**
 * Quotas stored by name with a revision counter. `cache` is what the plugin lists: the store
 * itself unless `lagging` (then the quotas as first stored, never updated).
 */
class QuotaStore implements ResourceQuotaDeps {
  stored = new Map<string, ResourceQuota>();
  initial = new Map<string, ResourceQuota>();
  rev = 10;
  writes = 0;
  refetches = 0;
  lagging = false;
  /** Called before each write; may change the stored quota (another writer) or throw. */
  beforeWrite: ((q: ResourceQuota) => void) | undefined;

  constructor(...quotas: ResourceQuota[]) {
    for (const q of quotas) this.put(q);
    this.initial = new Map(this.stored);
  }
  put(q: ResourceQuota): ResourceQuota {
    const saved = structuredClone({ ...q, metadata: { ...q.metadata, resourceVersion: String(++this.rev) } });
    this.stored.set(q.metadata.name!, saved);
    return saved;
  }
  used(name: string): Record<string, string> | undefined {
    return this.stored.get(name)?.status?.used;
  }
  quotas = (namespace: string): readonly ResourceQuota[] => {
    const src = this.lagging ? this.initial : this.stored;
    return namespace === 'team-alpha' ? [...src.values()] : [];
  };
  updateQuotaStatus = async (q: ResourceQuota): Promise<ResourceQuota> => {
    await Promise.resolve();
    this.beforeWrite?.(q);
    const cur = this.stored.get(q.metadata.name!);
    if (!cur) throw new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404 });
    if (cur.metadata.resourceVersion !== q.metadata.resourceVersion) throw staleConflict({ group: '', resource: 'resourcequotas' }, q.metadata.name!);
    this.writes++;
    return this.put({ ...cur, status: q.status });
  };
  refetch = async (_ns: string, name: string): Promise<ResourceQuota | undefined> => {
    this.refetches++;
    return this.stored.get(name);
  };
}

async function refusal(p: AdmissionPlugin, a: AdmissionAttributes): Promise<StatusError> {
  try {
    await p.validate!(a);
  } catch (err) {
    assert.ok(err instanceof StatusError, String(err));
    return err;
  }
  assert.fail('admitted');
}

// ---- the seed scenario -----------------------------------------------------------------------------

test('team-alpha-quota: ten pods of 1 CPU are admitted, the eleventh is refused with upstream\'s message', async () => {
  const store = new QuotaStore(quota('team-alpha-quota', { 'requests.cpu': '10' }));
  const p = resourceQuotaPlugin(store);
  for (let i = 1; i <= 10; i++) await p.validate!(attrs('', 'pods', cpuPod(`pod-${i}`)));
  assert.deepEqual(store.used('team-alpha-quota'), { 'requests.cpu': '10' });
  const err = await refusal(p, attrs('', 'pods', cpuPod('pod-11')));
  assert.ok(isForbidden(err));
  assert.equal(err.message, 'pods "pod-11" is forbidden: exceeded quota: team-alpha-quota, requested: requests.cpu=1, used: requests.cpu=10, limited: requests.cpu=10');
  assert.deepEqual(err.status.details, { name: 'pod-11', kind: 'pods' });
  assert.deepEqual(store.used('team-alpha-quota'), { 'requests.cpu': '10' });
});

test('the seed scenario holds when the quota cache never catches up (written quotas are preferred)', async () => {
  const store = new QuotaStore(quota('team-alpha-quota', { 'requests.cpu': '10' }));
  store.lagging = true;
  const p = resourceQuotaPlugin(store);
  for (let i = 1; i <= 10; i++) await p.validate!(attrs('', 'pods', cpuPod(`pod-${i}`)));
  await refusal(p, attrs('', 'pods', cpuPod('pod-11')));
  assert.equal(store.writes, 10);
  assert.equal(store.refetches, 0);
});

test('concurrent creates are decided in batches: exactly the quota is admitted, in fewer writes', async () => {
  const store = new QuotaStore(quota('team-alpha-quota', { 'requests.cpu': '10', pods: '100' }));
  const p = resourceQuotaPlugin(store);
  const results = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => p.validate!(attrs('', 'pods', cpuPod(`pod-${i}`)))));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10);
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(refused.length, 15);
  for (const r of refused) assert.match((r.reason as Error).message, /exceeded quota: team-alpha-quota, requested: requests.cpu=1, used: requests.cpu=10, limited: requests.cpu=10$/);
  assert.deepEqual(store.used('team-alpha-quota'), { pods: '10', 'requests.cpu': '10' });
  assert.ok(store.writes < 10, `${store.writes} writes`);
});

test('a mixed request names only the exceeded resources, canonical quantities', async () => {
  const store = new QuotaStore(quota('q', { 'requests.cpu': '2', 'requests.memory': '1Gi' }, {}, { 'requests.cpu': '1500m', 'requests.memory': '512Mi' }));
  const err = await refusal(resourceQuotaPlugin(store), attrs('', 'pods', pod('p', [ctr('app', { cpu: '1', memory: '256Mi' })])));
  assert.equal(err.message, 'pods "p" is forbidden: exceeded quota: q, requested: requests.cpu=1, used: requests.cpu=1500m, limited: requests.cpu=2');
});

// ---- constraints ------------------------------------------------------------------------------------

test('a quota on requests.cpu requires every container to request cpu', async () => {
  const store = new QuotaStore(quota('team-alpha-quota', { 'requests.cpu': '10' }));
  const err = await refusal(resourceQuotaPlugin(store), attrs('', 'pods', pod('p', [ctr('app'), ctr('side', { cpu: '1' })])));
  assert.equal(err.message, 'pods "p" is forbidden: failed quota: team-alpha-quota: must specify requests.cpu for: app');
  assert.equal(store.writes, 0);
});

test('a quota without measured usage refuses what it covers', async () => {
  const q = quota('q', { 'requests.cpu': '10', pods: '5' });
  q.status = { hard: q.spec!.hard, used: { pods: '0' } };
  const err = await refusal(resourceQuotaPlugin(new QuotaStore(q)), attrs('', 'pods', { ...cpuPod(''), metadata: { generateName: 'web-', namespace: 'team-alpha' } }));
  assert.equal(err.message, 'pods "web-" is forbidden: status unknown for quota: q, resources: pods,requests.cpu');
});

test('a quota the controller has not seen yet (no status.hard) is not enforced', async () => {
  const q = quota('q', { 'requests.cpu': '1' });
  delete q.status;
  const store = new QuotaStore(q);
  await resourceQuotaPlugin(store).validate!(attrs('', 'pods', cpuPod('p', '5')));
  assert.equal(store.writes, 0);
});

// ---- scopes and kinds ---------------------------------------------------------------------------

test('scoped quotas charge only the pods in scope', async () => {
  const store = new QuotaStore(quota('best-effort', { pods: '1' }, { scopes: ['BestEffort'] }), quota('all', { pods: '10' }));
  const p = resourceQuotaPlugin(store);
  await p.validate!(attrs('', 'pods', pod('be-1', [ctr('app')])));
  await p.validate!(attrs('', 'pods', cpuPod('burst-1')));
  assert.deepEqual(store.used('best-effort'), { pods: '1' });
  assert.deepEqual(store.used('all'), { pods: '2' });
  const err = await refusal(p, attrs('', 'pods', pod('be-2', [ctr('app')])));
  assert.equal(err.message, 'pods "be-2" is forbidden: exceeded quota: best-effort, requested: pods=1, used: pods=1, limited: pods=1');
  await p.validate!(attrs('', 'pods', cpuPod('burst-2')));
  assert.deepEqual(store.used('all'), { pods: '3' });
});

test('object counts: count/ names and the legacy names', async () => {
  const store = new QuotaStore(quota('objects', { 'count/configmaps': '2', secrets: '1', 'count/deployments.apps': '1' }));
  const p = resourceQuotaPlugin(store);
  const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'team-alpha' } });
  await p.validate!(attrs('', 'configmaps', cm('c1')));
  await p.validate!(attrs('', 'configmaps', cm('c2')));
  let err = await refusal(p, attrs('', 'configmaps', cm('c3')));
  assert.equal(err.message, 'configmaps "c3" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=2, limited: count/configmaps=2');
  await p.validate!(attrs('', 'secrets', { metadata: { name: 's1' } }));
  err = await refusal(p, attrs('', 'secrets', { metadata: { name: 's2' } }));
  assert.match(err.message, /^secrets "s2" is forbidden: exceeded quota: objects, requested: secrets=1, used: secrets=1, limited: secrets=1$/);
  await p.validate!(attrs('apps', 'deployments', { metadata: { name: 'd1' } }));
  err = await refusal(p, attrs('apps', 'deployments', { metadata: { name: 'd2' } }));
  assert.equal(err.message, 'deployments.apps "d2" is forbidden: exceeded quota: objects, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1');
  // Updates of counted objects are not charged.
  await p.validate!(attrs('', 'configmaps', cm('c1'), { operation: 'UPDATE', oldObject: obj({ ...cm('c1'), metadata: { name: 'c1', resourceVersion: '3' } }) }));
  assert.deepEqual(store.used('objects'), { 'count/configmaps': '2', 'count/deployments.apps': '1', secrets: '1' });
});

const svc = (name: string, spec: Service['spec'], rv?: string): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'team-alpha', resourceVersion: rv }, spec });

test('services.nodeports: node ports are charged on create and on a type change', async () => {
  const store = new QuotaStore(quota('svc', { 'services.nodeports': '2', services: '5' }));
  const p = resourceQuotaPlugin(store);
  await p.validate!(attrs('', 'services', svc('np', { type: 'NodePort', ports: [{ port: 80 }] })));
  const before = svc('web', { type: 'ClusterIP', ports: [{ port: 80 }, { port: 443 }] }, '7');
  await p.validate!(attrs('', 'services', svc('web', before.spec)));
  assert.deepEqual(store.used('svc'), { services: '2', 'services.nodeports': '1' });
  // An update that changes nothing charges nothing.
  await p.validate!(attrs('', 'services', before, { operation: 'UPDATE', oldObject: obj(before) }));
  assert.deepEqual(store.used('svc'), { services: '2', 'services.nodeports': '1' });
  const err = await refusal(p, attrs('', 'services', svc('web', { type: 'NodePort', ports: before.spec!.ports }), { operation: 'UPDATE', oldObject: obj(before) }));
  assert.equal(err.message, 'services "web" is forbidden: exceeded quota: svc, requested: services.nodeports=2, used: services.nodeports=1, limited: services.nodeports=2');
});

test('a claim that grows is charged the growth', async () => {
  const store = new QuotaStore(quota('storage', { 'requests.storage': '10Gi', persistentvolumeclaims: '5' }));
  const p = resourceQuotaPlugin(store);
  const claim = (size: string, rv?: string): PersistentVolumeClaim => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'team-alpha', resourceVersion: rv }, spec: { resources: { requests: { storage: size } } } });
  await p.validate!(attrs('', 'persistentvolumeclaims', claim('4Gi')));
  await p.validate!(attrs('', 'persistentvolumeclaims', claim('8Gi'), { operation: 'UPDATE', oldObject: obj(claim('4Gi', '5')) }));
  assert.deepEqual(store.used('storage'), { persistentvolumeclaims: '1', 'requests.storage': '8Gi' });
  const err = await refusal(p, attrs('', 'persistentvolumeclaims', claim('20Gi'), { operation: 'UPDATE', oldObject: obj(claim('8Gi', '6')) }));
  assert.equal(err.message, 'persistentvolumeclaims "data" is forbidden: exceeded quota: storage, requested: requests.storage=12Gi, used: requests.storage=8Gi, limited: requests.storage=10Gi');
});

// ---- what is not charged ------------------------------------------------------------------------------

test('dry runs are checked but never charged', async () => {
  const store = new QuotaStore(quota('q', { 'requests.cpu': '1' }));
  const p = resourceQuotaPlugin(store);
  await p.validate!(attrs('', 'pods', cpuPod('a'), { dryRun: true }));
  await p.validate!(attrs('', 'pods', cpuPod('b'), { dryRun: true }));
  assert.equal(store.writes, 0);
  const err = await refusal(p, attrs('', 'pods', cpuPod('big', '2'), { dryRun: true }));
  assert.match(err.message, /exceeded quota: q/);
});

test('deletes, subresources, other namespaces and ignored kinds are not evaluated', () => {
  const store = new QuotaStore(quota('q', { pods: '0', 'count/events': '0' }));
  const p = resourceQuotaPlugin(store);
  const sync = (a: AdmissionAttributes) => assert.equal(p.validate!(a), undefined);
  sync(attrs('', 'pods', cpuPod('p'), { operation: 'DELETE', object: undefined, oldObject: obj(cpuPod('p')) }));
  sync(attrs('', 'pods', cpuPod('p'), { subresource: 'status', operation: 'UPDATE', oldObject: obj(cpuPod('p')) }));
  sync(attrs('', 'pods', cpuPod('p'), { namespace: 'other' }));
  sync(attrs('', 'events', { metadata: { name: 'e' } }));
  sync(attrs('', 'pods', cpuPod('p'), { operation: 'UPDATE', oldObject: obj(cpuPod('p')) }));
  assert.equal(store.writes, 0);
});

// ---- conflicts ------------------------------------------------------------------------------------

test('a lost race is retried against the re-read quota', async () => {
  const store = new QuotaStore(quota('team-alpha-quota', { 'requests.cpu': '10' }, {}, { 'requests.cpu': '8' }));
  let raced = false;
  store.beforeWrite = () => {
    if (raced) return;
    raced = true; // another API server charged one CPU meanwhile
    const cur = store.stored.get('team-alpha-quota')!;
    store.put({ ...cur, status: { ...cur.status, used: { 'requests.cpu': '9' } } });
  };
  const p = resourceQuotaPlugin(store);
  await p.validate!(attrs('', 'pods', cpuPod('a')));
  assert.deepEqual(store.used('team-alpha-quota'), { 'requests.cpu': '10' });
  assert.equal(store.refetches, 1);
  // The next one sees the 10 (the re-read quota), though the cache still says 8.
  const err = await refusal(p, attrs('', 'pods', cpuPod('b')));
  assert.match(err.message, /used: requests.cpu=10/);
});

test('a lost race re-checks the limit: the request is refused when the other writer took the room', async () => {
  const store = new QuotaStore(quota('q', { 'requests.cpu': '10' }, {}, { 'requests.cpu': '9' }));
  let raced = false;
  store.beforeWrite = () => {
    if (raced) return;
    raced = true;
    const cur = store.stored.get('q')!;
    store.put({ ...cur, status: { ...cur.status, used: { 'requests.cpu': '10' } } });
  };
  const err = await refusal(resourceQuotaPlugin(store), attrs('', 'pods', cpuPod('a')));
  assert.equal(err.message, 'pods "a" is forbidden: exceeded quota: q, requested: requests.cpu=1, used: requests.cpu=10, limited: requests.cpu=10');
});

test('writes that keep failing end in the last error after three retries', async () => {
  const store = new QuotaStore(quota('q', { 'requests.cpu': '10' }));
  let attempts = 0;
  store.beforeWrite = () => {
    attempts++;
    const cur = store.stored.get('q')!;
    store.put(cur); // bump the resourceVersion every time
  };
  const err = await refusal(resourceQuotaPlugin(store), attrs('', 'pods', cpuPod('a')));
  assert.ok(isConflict(err));
  assert.equal(attempts, 4);
  assert.equal(store.refetches, 3);
});

test('a quota deleted during the retry no longer applies', async () => {
  const store = new QuotaStore(quota('q', { 'requests.cpu': '10' }));
  store.beforeWrite = () => {
    store.stored.delete('q');
  };
  await resourceQuotaPlugin(store).validate!(attrs('', 'pods', cpuPod('a')));
  assert.equal(store.writes, 0);
});

test('a pod resize is charged the growth of its requests', async () => {
  const store = new QuotaStore(quota('q', { 'requests.cpu': '4' }, {}, { 'requests.cpu': '1' }));
  const p = resourceQuotaPlugin(store);
  const old = { ...cpuPod('web', '1'), metadata: { name: 'web', namespace: 'team-alpha', resourceVersion: '9' } };
  await p.validate!(attrs('', 'pods', cpuPod('web', '3'), { operation: 'UPDATE', subresource: 'resize', oldObject: obj(old) }));
  assert.deepEqual(store.used('q'), { 'requests.cpu': '3' });
  const err = await refusal(p, attrs('', 'pods', cpuPod('web', '4'), { operation: 'UPDATE', subresource: 'resize', oldObject: obj(old) }));
  assert.equal(err.message, 'pods "web" is forbidden: exceeded quota: q, requested: requests.cpu=3, used: requests.cpu=3, limited: requests.cpu=4');
});

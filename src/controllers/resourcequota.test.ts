/**
 * The resourcequota controller against the in-process API server on a temporary SQLite store:
 * status mirrors spec.hard and measures the namespace, finished and deleted pods give usage
 * back, spec changes are followed, the periodic resync repairs a wrong status, and nothing is
 * written when nothing differs. Periods are shortened through the controller's options.
 * The server runs the ResourceQuota admission plugin wired to its own caches and storage (as the
 * integrator wires it), so the seed scenario runs end to end through the client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pod, ResourceQuota } from '../api/index.ts';
import type { KubeObject } from '../api/types.ts';
import { resourceQuotaPlugin } from '../apiserver/admission/resourcequota.ts';
import { ensurePki } from '../pki/index.ts';
import { openStore } from '../storage/index.ts';
import type { Store } from '../storage/types.ts';
import { builtinResources } from '../api/groups/index.ts';
import { ApiServer } from '../apiserver/server.ts';
import { bootstrap } from '../apiserver/bootstrap.ts';
import { clientset, createClient, InformerFactory, type Clientset, type Recorder, type RestClient } from '../client/index.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { resourceQuotaController } from './resourcequota.ts';
import { until as waitUntil } from './testing.ts';

const ns = 'team-alpha';
const resyncMs = 1_500;

describe('resourcequota controller', () => {
  let dir = '';
  let store: Store;
  let api: ApiServer;
  let client: RestClient;
  let cs: Clientset;
  const ac = new AbortController();
  let informers: InformerFactory;

  const until = <T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> => waitUntil(what, fn, ms);
  const quota = () => cs.resourceQuotas.get('team-alpha-quota', { namespace: ns });
  const usedIs = (want: Record<string, string>) =>
    until(`used ${JSON.stringify(want)}`, async () => {
      const q = await quota();
      return JSON.stringify(q.status?.used) === JSON.stringify(want) ? q : undefined;
    });
  const pod = (name: string, cpu?: string, namespace = ns): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: [{ name: 'app', image: 'nginx', ...(cpu ? { resources: { requests: { cpu } } } : {}) }] },
  });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-quota-test-'));
    const pki = await ensurePki(path.join(dir, 'tls'), { hostnames: [], addresses: [] });
    store = await openStore(undefined, dir);
    const quotaStore = () => api.storageFor(api.registry.byKind('', 'ResourceQuota')!);
    const system = { user: { username: 'system:apiserver', groups: ['system:masters'] }, dryRun: false, version: 'v1' };
    const quotaAdmission = resourceQuotaPlugin({
      quotas: (namespace) => quotaStore().cache.listPrefix(quotaStore().key(namespace, '')).map((c) => c.obj as unknown as ResourceQuota),
      updateQuotaStatus: async (q) => (await quotaStore().update(q.metadata.namespace!, q.metadata.name!, () => structuredClone(q) as unknown as KubeObject, system, { subresource: 'status' })).obj as unknown as ResourceQuota,
      refetch: async (namespace, name) => (await quotaStore().getFromStore(namespace, name))?.obj as unknown as ResourceQuota | undefined,
    });
    api = new ApiServer({ store, resources: builtinResources, tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem }, port: 0, admission: [quotaAdmission] });
    const port = await api.start({ beforeReady: (p) => bootstrap(api, { port: p }) });
    client = await createClient({ component: 'quota-test', connection: { server: `https://127.0.0.1:${port}`, ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem } });
    cs = clientset(client);
    await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    // No serviceaccount controller runs here: the pods' account is made by hand (ServiceAccount admission needs it).
    await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } }, { namespace: ns });
    await cs.pods.create(pod('a', '1'), { namespace: ns });
    await cs.pods.create(pod('b', '500m'), { namespace: ns });
    await cs.pods.create(pod('c'), { namespace: ns });
    await cs.configMaps.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: ns } }, { namespace: ns });
    await cs.services.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: ns }, spec: { type: 'NodePort', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] } }, { namespace: ns });

    informers = new InformerFactory(client, { log: () => {} });
    const ctx: ControllerContext = {
      client,
      config: defaultControllerConfig,
      informers,
      recorder: () => ({}) as Recorder,
      signal: ac.signal,
      log: () => {},
    };
    resourceQuotaController({ resyncMs, replenishDelayMs: 50 })(ctx);
    informers.start(ac.signal);
  });
  after(async () => {
    ac.abort();
    await informers?.stopped();
    await client?.transport.close();
    await api?.close();
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a new quota gets status.hard from spec.hard and the namespace\'s usage', async () => {
    const hard = { pods: '10', 'requests.cpu': '4000m', 'count/configmaps': '5', 'services.nodeports': '3', 'count/deployments.apps': '2', 'requests.storage': '1Gi' };
    await cs.resourceQuotas.create({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'team-alpha-quota', namespace: ns }, spec: { hard } }, { namespace: ns });
    const q = await usedIs({ 'count/configmaps': '1', 'count/deployments.apps': '0', pods: '3', 'requests.cpu': '1500m', 'requests.storage': '0', 'services.nodeports': '2' });
    assert.deepEqual(q.status?.hard, { 'count/configmaps': '5', 'count/deployments.apps': '2', pods: '10', 'requests.cpu': '4', 'requests.storage': '1Gi', 'services.nodeports': '3' });
  });

  test('a pod that finishes stops counting', async () => {
    const a = await cs.pods.get('a', { namespace: ns });
    await cs.pods.updateStatus({ ...a, status: { ...a.status, phase: 'Succeeded' } }, { namespace: ns });
    await usedIs({ 'count/configmaps': '1', 'count/deployments.apps': '0', pods: '2', 'requests.cpu': '500m', 'requests.storage': '0', 'services.nodeports': '2' });
  });

  test('deleted objects give their usage back', async () => {
    await cs.pods.delete('b', { namespace: ns, gracePeriodSeconds: 0 });
    await cs.configMaps.delete('settings', { namespace: ns });
    await usedIs({ 'count/configmaps': '0', 'count/deployments.apps': '0', pods: '1', 'requests.cpu': '0', 'requests.storage': '0', 'services.nodeports': '2' });
  });

  test('a spec change is mirrored and measured', async () => {
    const q = await quota();
    await cs.resourceQuotas.update({ ...q, spec: { hard: { pods: '20', secrets: '3' } } }, { namespace: ns });
    const got = await usedIs({ pods: '1', secrets: '0' });
    assert.deepEqual(got.status?.hard, { pods: '20', secrets: '3' });
  });

  test('the resync repairs a wrong status, then writes nothing while nothing changes', async () => {
    const q = await quota();
    await cs.resourceQuotas.updateStatus({ ...q, status: { ...q.status, used: { pods: '9', secrets: '0' } } }, { namespace: ns });
    const fixed = await usedIs({ pods: '1', secrets: '0' });
    await new Promise((r) => setTimeout(r, resyncMs * 1.5));
    assert.equal((await quota()).metadata.resourceVersion, fixed.metadata.resourceVersion);
  });

  test('a quota counting another resource starts watching it', async () => {
    await cs.resourceQuotas.create(
      { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'deployments', namespace: ns }, spec: { hard: { 'count/deployments.apps': '2' } } },
      { namespace: ns },
    );
    await cs.deployments.create(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: ns },
        spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'nginx' }] } } },
      },
      { namespace: ns },
    );
    // Creates are charged by admission; the count shows after the next resync.
    await until('count/deployments.apps=1', async () => {
      const q: ResourceQuota = await cs.resourceQuotas.get('deployments', { namespace: ns });
      return q.status?.used?.['count/deployments.apps'] === '1' ? q : undefined;
    });
    await cs.deployments.delete('web', { namespace: ns });
    await until('count/deployments.apps=0', async () => {
      const q: ResourceQuota = await cs.resourceQuotas.get('deployments', { namespace: ns });
      return q.status?.used?.['count/deployments.apps'] === '0' ? q : undefined;
    });
  });

  test('with the admission plugin: ten pods of 1 CPU fit team-alpha-quota, the eleventh is refused, a deleted one makes room', async () => {
    const seed = 'seed';
    await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: seed } });
    await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: seed } }, { namespace: seed });
    await cs.resourceQuotas.create({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'team-alpha-quota', namespace: seed }, spec: { hard: { 'requests.cpu': '10' } } }, { namespace: seed });
    await until('the quota measured', async () => {
      const q: ResourceQuota = await cs.resourceQuotas.get('team-alpha-quota', { namespace: seed });
      return q.status?.used ? q : undefined;
    });
    for (let i = 1; i <= 10; i++) await cs.pods.create(pod(`pod-${i}`, '1', seed), { namespace: seed });
    await assert.rejects(cs.pods.create(pod('pod-11', '1', seed), { namespace: seed }), {
      message: 'pods "pod-11" is forbidden: exceeded quota: team-alpha-quota, requested: requests.cpu=1, used: requests.cpu=10, limited: requests.cpu=10',
    });
    await assert.rejects(cs.pods.create(pod('no-request', undefined, seed), { namespace: seed }), {
      message: 'pods "no-request" is forbidden: failed quota: team-alpha-quota: must specify requests.cpu for: app',
    });
    assert.equal((await cs.pods.list({ namespace: seed })).items.length, 10);
    await cs.pods.delete('pod-1', { namespace: seed, gracePeriodSeconds: 0 });
    await until('requests.cpu=9', async () => {
      const q: ResourceQuota = await cs.resourceQuotas.get('team-alpha-quota', { namespace: seed });
      return q.status?.used?.['requests.cpu'] === '9' ? q : undefined;
    });
    await cs.pods.create(pod('pod-11', '1', seed), { namespace: seed });
  });
});

/**
 * The operator kit (`bosun/operator`) end to end, against `startTestCluster()` — the API server,
 * controller manager, scheduler and two simulated nodes in this process — with the real kubectl:
 *
 * - a ConfigMap "copier" built with the kit over built-in kinds (For with a predicate, Owns,
 *   createOrUpdate, owner references the real garbage collector follows);
 * - leader election: two managers on one Lease, only the leader reconciles; stopping it
 *   gracefully releases the Lease and the other takes over;
 * - the example Database operator (examples/database-operator): the CRD applied with kubectl,
 *   a Database reconciled into a Secret, a headless Service and a StatefulSet with owner
 *   references, status Ready with readyReplicas, `kubectl scale` through the scale subresource,
 *   printer columns, and deletion through the cleanup finalizer (claims gone too).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigMap, Lease, PersistentVolumeClaim, Secret, Service, StatefulSet } from '../../src/api/index.ts';
import type { KubeObject } from '../../src/api/types.ts';
import { controllerFor, createManager, createOrUpdate, isNotFound, objectMatches, resources, setControllerReference, startTestCluster, type Manager, type TestCluster } from '../../src/operator/index.ts';
import { addDatabaseController, databases, finalizer, type Database } from '../../examples/database-operator/operator.ts';
import { kubectl, kubectlOk, kubectlVersions, root, until } from './harness.ts';

const v = kubectlVersions.at(-1)!;
let cluster: TestCluster;
const logs: string[] = [];
const log = (m: string) => void logs.push(m);
const detail = () => logs.slice(-40).join('\n');

before(async () => {
  cluster = await startTestCluster({ nodes: 2 });
});
after(async () => {
  await cluster?.stop();
});

const get = async <T extends KubeObject | object>(res: Parameters<TestCluster['client']['get']>[0], ns: string, name: string): Promise<T | undefined> => {
  try {
    return (await cluster.client.get(res, name, { namespace: ns })) as unknown as T;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
};

/** Runs a manager until the returned stop() is called (which resolves with start's outcome). */
function run(mgr: Manager): { stop(): Promise<unknown>; done: Promise<unknown> } {
  const ctl = new AbortController();
  const done = mgr.start(ctl.signal).then(() => 'ok', (err: unknown) => err);
  return {
    done,
    stop: async () => {
      ctl.abort();
      const r = await done;
      await mgr.close();
      return r;
    },
  };
}

/** Copies ConfigMaps labelled copy=yes into `<name>-copy`, controlled by the original. */
function addCopier(mgr: Manager, seen?: string[]): void {
  const cms = mgr.cache<ConfigMap>(resources.configMaps);
  controllerFor(mgr, resources.configMaps, { predicates: [objectMatches((o) => o.metadata.labels?.['copy'] === 'yes')] })
    .named('copier')
    .owns(resources.configMaps)
    .complete(async (req) => {
      seen?.push(req.name);
      const src = cms.get(req.namespace, req.name);
      if (!src || src.metadata.deletionTimestamp) return;
      await createOrUpdate<ConfigMap>(mgr.client, resources.configMaps, { metadata: { name: `${req.name}-copy`, namespace: req.namespace } }, (c) => {
        c.data = { ...src.data };
        setControllerReference(src, c);
      });
    });
}

describe('the kit over built-in kinds', () => {
  test('a controller keeps an owned copy in step and the garbage collector removes it with its owner', async () => {
    const mgr = await createManager({ client: cluster.client, log });
    addCopier(mgr);
    const r = run(mgr);
    try {
      await kubectlOk(cluster, v, ['create', 'configmap', 'src', '--from-literal=k=1']);
      await kubectlOk(cluster, v, ['label', 'configmap', 'src', 'copy=yes']);
      await kubectlOk(cluster, v, ['create', 'configmap', 'ignored', '--from-literal=k=1']);
      const copy = await until('the copy', async () => (await get<ConfigMap>(resources.configMaps, 'default', 'src-copy'))?.data?.['k'] === '1' && get<ConfigMap>(resources.configMaps, 'default', 'src-copy'), { detail });
      const src = (await get<ConfigMap>(resources.configMaps, 'default', 'src'))!;
      assert.deepStrictEqual(copy!.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'src', uid: src.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      await kubectlOk(cluster, v, ['patch', 'configmap', 'src', '--type=merge', '-p', '{"data":{"k":"2"}}']);
      await until('the copy follows', async () => (await get<ConfigMap>(resources.configMaps, 'default', 'src-copy'))?.data?.['k'] === '2', { detail });
      // The copy edited by hand: its owner's controller puts it back (Owns).
      await kubectlOk(cluster, v, ['patch', 'configmap', 'src-copy', '--type=merge', '-p', '{"data":{"k":"tampered"}}']);
      await until('the copy restored', async () => (await get<ConfigMap>(resources.configMaps, 'default', 'src-copy'))?.data?.['k'] === '2', { detail });
      assert.equal(await get(resources.configMaps, 'default', 'ignored-copy'), undefined);
      await kubectlOk(cluster, v, ['delete', 'configmap', 'src']);
      await until('the copy collected', async () => !(await get(resources.configMaps, 'default', 'src-copy')), { detail, timeoutMs: 30_000 });
    } finally {
      assert.equal(await r.stop(), 'ok');
    }
  });

  test('of two managers on one Lease only the leader reconciles; a graceful stop hands over at once', async () => {
    const lease = { namespace: 'default', name: 'copier-e2e', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 300 };
    const seenA: string[] = [];
    const seenB: string[] = [];
    const a = await createManager({ kubeconfig: cluster.kubeconfig, leaderElection: { ...lease, identity: 'a' }, log });
    addCopier(a, seenA);
    const runA = run(a);
    await a.elected();
    const b = await createManager({ kubeconfig: cluster.kubeconfig, leaderElection: { ...lease, identity: 'b' }, log });
    addCopier(b, seenB);
    const runB = run(b);
    try {
      await kubectlOk(cluster, v, ['create', 'configmap', 'le1', '--from-literal=k=1']);
      await kubectlOk(cluster, v, ['label', 'configmap', 'le1', 'copy=yes']);
      await until('a reconciles', async () => seenA.includes('le1') && !!(await get(resources.configMaps, 'default', 'le1-copy')), { detail });
      assert.ok(!b.isLeader());
      assert.equal(seenB.length, 0);
      // a stops gracefully: it releases the Lease, b leads at its next try (not after 15 s).
      const t0 = Date.now();
      assert.equal(await runA.stop(), 'ok');
      const released = await get<Lease>(resources.leases, 'default', 'copier-e2e');
      assert.ok(!released?.spec?.holderIdentity || released.spec.holderIdentity === 'b', `holder after release: ${released?.spec?.holderIdentity}`);
      await b.elected();
      assert.ok(Date.now() - t0 < 10_000, 'took over before the lease expired');
      await kubectlOk(cluster, v, ['create', 'configmap', 'le2', '--from-literal=k=1']);
      await kubectlOk(cluster, v, ['label', 'configmap', 'le2', 'copy=yes']);
      await until('b reconciles', async () => seenB.includes('le2') && !!(await get(resources.configMaps, 'default', 'le2-copy')), { detail });
      assert.ok(!seenA.includes('le2'));
      assert.equal((await get<Lease>(resources.leases, 'default', 'copier-e2e'))?.spec?.holderIdentity, 'b');
    } finally {
      await runA.stop();
      assert.equal(await runB.stop(), 'ok');
    }
  });
});

describe('the Database operator', () => {
  let stop: (() => Promise<unknown>) | undefined;
  before(async () => {
    await kubectlOk(cluster, v, ['apply', '-f', `${root}/examples/database-operator/crd.yaml`]);
    await kubectlOk(cluster, v, ['wait', '--for=condition=Established', 'crd/databases.example.com', '--timeout=30s']);
    const mgr = await createManager({ kubeconfig: cluster.kubeconfig, log });
    addDatabaseController(mgr);
    stop = run(mgr).stop;
  });
  after(async () => {
    await stop?.();
  });

  const getDb = (name: string) => get<Database>(databases, 'default', name);

  test('a Database becomes a Secret, a headless Service and a StatefulSet it controls, and turns Ready', async () => {
    await kubectlOk(cluster, v, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Database', metadata: { name: 'pg', namespace: 'default' }, spec: { engine: 'postgres', version: '16' } }) });
    const db = await until('the finalizer', async () => {
      const d = await getDb('pg');
      return d?.metadata.finalizers?.includes(finalizer) && d;
    }, { detail });
    assert.equal(db.spec?.replicas, 1, 'defaulted from the schema');
    assert.equal(db.spec?.storage, '1Gi');
    const ref = { apiVersion: 'example.com/v1', kind: 'Database', name: 'pg', uid: db.metadata.uid, controller: true, blockOwnerDeletion: true };
    const sts = await until('the StatefulSet', () => get<StatefulSet>(resources.statefulSets, 'default', 'pg'), { detail });
    assert.deepStrictEqual(sts.metadata.ownerReferences, [ref]);
    assert.equal(sts.spec?.replicas, 1);
    assert.equal(sts.spec?.template.spec?.containers[0]?.image, 'postgres:16');
    assert.equal(sts.spec?.volumeClaimTemplates?.[0]?.spec?.storageClassName, 'local-path');
    assert.equal(sts.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.['storage'], '1Gi');
    const svc = (await get<Service>(resources.services, 'default', 'pg'))!;
    assert.equal(svc.spec?.clusterIP, 'None');
    assert.deepStrictEqual(svc.metadata.ownerReferences, [ref]);
    const secret = (await get<Secret>(resources.secrets, 'default', 'pg-credentials'))!;
    assert.ok(secret.data?.['password']);
    const ready = await until('Ready', async () => {
      const d = await getDb('pg');
      return d?.status?.phase === 'Ready' && d;
    }, { detail, timeoutMs: 60_000 });
    assert.equal(ready.status?.readyReplicas, 1);
    assert.equal(ready.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(ready.status?.conditions?.find((c) => c.type === 'Progressing')?.status, 'False');
    const table = await kubectlOk(cluster, v, ['get', 'db', 'pg']);
    assert.match(table, /^NAME\s+ENGINE\s+REPLICAS\s+READY\s+PHASE\s+AGE\n/);
    assert.match(table, /\npg\s+postgres\s+1\s+1\s+Ready\s+\d+s\n/);
  });

  test('kubectl scale goes through the scale subresource and the StatefulSet follows', async () => {
    await kubectlOk(cluster, v, ['scale', 'databases/pg', '--replicas=3']);
    await until('the StatefulSet scaled', async () => (await get<StatefulSet>(resources.statefulSets, 'default', 'pg'))?.spec?.replicas === 3, { detail });
    await until('3 ready', async () => {
      const d = await getDb('pg');
      return d?.status?.readyReplicas === 3 && d.status.phase === 'Ready';
    }, { detail, timeoutMs: 60_000 });
    const scale = JSON.parse(await kubectlOk(cluster, v, ['get', '--raw', '/apis/example.com/v1/namespaces/default/databases/pg/scale'])) as { spec: { replicas: number }; status: { replicas: number } };
    assert.equal(scale.spec.replicas, 3);
    assert.equal(scale.status.replicas, 3);
  });

  test('a HorizontalPodAutoscaler targets a Database through discovery and its scale subresource', async () => {
    await kubectlOk(cluster, v, ['apply', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Database\nmetadata:\n  name: auto\nspec:\n  engine: mysql\n  replicas: 1\n' });
    // Below minReplicas the controller scales up without metrics (upstream's "below Spec.MinReplicas").
    await kubectlOk(cluster, v, ['apply', '-f', '-'], {
      input: 'apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: auto\nspec:\n  scaleTargetRef:\n    apiVersion: example.com/v1\n    kind: Database\n    name: auto\n  minReplicas: 2\n  maxReplicas: 3\n  metrics:\n  - type: Resource\n    resource:\n      name: cpu\n      target:\n        type: Utilization\n        averageUtilization: 50\n',
    });
    await until('the HPA scaled the Database', async () => (await getDb('auto'))?.spec?.replicas === 2, { detail, timeoutMs: 60_000 });
    await until('the StatefulSet follows', async () => (await get<StatefulSet>(resources.statefulSets, 'default', 'auto'))?.spec?.replicas === 2, { detail });
    const hpa = JSON.parse(await kubectlOk(cluster, v, ['get', 'hpa', 'auto', '-o', 'json'])) as { status?: { desiredReplicas?: number; conditions?: { type: string; status: string; reason: string }[] } };
    assert.equal(hpa.status?.desiredReplicas, 2);
    assert.equal(hpa.status?.conditions?.find((c) => c.type === 'AbleToScale')?.status, 'True');
    await kubectlOk(cluster, v, ['delete', 'hpa', 'auto']);
    await kubectlOk(cluster, v, ['delete', 'db', 'auto', '--wait=true', '--timeout=60s']);
  });

  test('the schema and the transition rule refuse bad changes', async () => {
    const tooMany = await kubectl(cluster, v, ['patch', 'db', 'pg', '--type=merge', '-p', '{"spec":{"replicas":11}}']);
    assert.notEqual(tooMany.code, 0);
    assert.match(tooMany.stderr, /spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10/);
    const engine = await kubectl(cluster, v, ['patch', 'db', 'pg', '--type=merge', '-p', '{"spec":{"engine":"mysql"}}']);
    assert.notEqual(engine.code, 0);
    assert.match(engine.stderr, /engine is immutable/);
  });

  test('deleting a Database runs the finalizer: the claims go, then everything it owned', async () => {
    await until('claims', async () => (await cluster.client.list<PersistentVolumeClaim>(resources.persistentVolumeClaims, { namespace: 'default', labelSelector: 'app.kubernetes.io/instance=pg' })).items.length === 3, { detail });
    await kubectlOk(cluster, v, ['delete', 'db', 'pg', '--wait=true', '--timeout=60s']);
    assert.equal(await getDb('pg'), undefined);
    await until('children collected', async () => {
      const [sts, svc, secret] = await Promise.all([get(resources.statefulSets, 'default', 'pg'), get(resources.services, 'default', 'pg'), get(resources.secrets, 'default', 'pg-credentials')]);
      return !sts && !svc && !secret;
    }, { detail, timeoutMs: 60_000 });
    await until('claims deleted', async () => (await cluster.client.list<PersistentVolumeClaim>(resources.persistentVolumeClaims, { namespace: 'default', labelSelector: 'app.kubernetes.io/instance=pg' })).items.length === 0, { detail, timeoutMs: 60_000 });
  });
});

test('`bosun operator gen-types` prints the example\'s checked-in types from its CRD', async () => {
  const { execFile } = await import('node:child_process');
  const fs = await import('node:fs');
  const out = await new Promise<string>((resolve, reject) =>
    execFile(`${root}/bin/bosun`, ['operator', 'gen-types', 'examples/database-operator/crd.yaml'], { cwd: root }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  assert.equal(out, fs.readFileSync(`${root}/examples/database-operator/types.ts`, 'utf8'));
});

/**
 * StatefulSets end to end: `bin/bosun server --virtual-nodes 3` driven with the real kubectl
 * (1.27 and 1.33) and, where kubectl has no verb, plain HTTP.
 *
 * Ordering is made deterministic by scheduling by hand: set `web` uses `schedulerName: manual`,
 * which no scheduler serves, so its pods stay unbound until the test binds them (POST
 * pods/<name>/binding, as a scheduler does); bound to a simulated node they run and are ready at
 * once. While web-0 is unbound (not ready) the controller, having counted it in its status, has
 * made no web-1; binding web-0 brings web-1. The same manual binding keeps `web`'s claims (of a
 * class no provisioner serves) out of the scheduler's volume checks, so they stay Pending without
 * holding anything up. Scale-down order is read from a `kubectl get -w` watch. Set `app` (no
 * claims, the default scheduler) carries rolling updates, partition, rollout status, history and
 * undo; set `ondel` the OnDelete strategy.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolumeClaim, Pod, StatefulSet } from '../../src/api/index.ts';
import { request, type Creds } from './api.ts';
import { kubectl, kubectlBackground, kubectlOk, kubectlVersions, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';

let server: ServerHandle;
let creds: Creds;

const ns = 'sts';
const v = kubectlVersions.at(-1)!;
const old = kubectlVersions[0]!;
let nodes: string[] = [];

const getJson = async <T>(path: string): Promise<T | undefined> => {
  const r = await request(creds, 'GET', path);
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
  return r.json<T>();
};
const getPod = (name: string) => getJson<Pod>(`/api/v1/namespaces/${ns}/pods/${name}`);
const getClaim = (name: string) => getJson<PersistentVolumeClaim>(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${name}`);
const getSet = async (name: string) => (await getJson<StatefulSet>(`/apis/apps/v1/namespaces/${ns}/statefulsets/${name}`))!;
const podsOf = async (app: string) => (await getJson<{ items: Pod[] }>(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3D${app}`))!.items;
const imageOf = (p: Pod | undefined) => p?.spec?.containers[0]?.image;

/** Binds one pod to a simulated node, as a scheduler does. */
async function bind(name: string): Promise<void> {
  const ordinal = Number(/-(\d+)$/.exec(name)?.[1] ?? 0);
  const r = await request(creds, 'POST', `/api/v1/namespaces/${ns}/pods/${name}/binding`, {
    body: JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { apiVersion: 'v1', kind: 'Node', name: nodes[ordinal % nodes.length] } }),
  });
  if (r.status !== 201 && r.status !== 409 && r.status !== 404) throw new Error(`binding ${name}: ${r.status} ${r.body}`);
}

/** The manual scheduler's round: binds every unbound, live pod of `app`. */
async function bindPending(app: string): Promise<void> {
  for (const p of await podsOf(app)) if (!p.spec?.nodeName && !p.metadata.deletionTimestamp) await bind(p.metadata.name!);
}

/** Polls until `app`'s status satisfies `pred`, binding its pods meanwhile when `manual`. */
function setStatus(name: string, pred: (s: StatefulSet) => boolean, manual = false): Promise<StatefulSet> {
  return until(`status of ${name}`, async () => {
    if (manual) await bindPending(name);
    const s = await getSet(name);
    return pred(s) ? s : undefined;
  }, { timeoutMs: 60_000 });
}

const settled = (want: number) => (s: StatefulSet) =>
  s.status?.observedGeneration === s.metadata.generation && s.status?.readyReplicas === want && s.status.replicas === want && s.status.updatedReplicas === want && s.status.currentRevision === s.status.updateRevision;

const webManifest = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${ns}}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 3
  serviceName: web
  selector: {matchLabels: {app: web}}
  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete, whenDeleted: Retain}
  template:
    metadata: {labels: {app: web}}
    spec:
      schedulerName: manual
      containers: [{name: c, image: "busybox:1", ports: [{name: http, containerPort: 80}]}]
  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      storageClassName: e2e-unprovisioned
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`;

// One server for the file; the suites below share it, in order.
describe('StatefulSets', () => {
  useServer({ args: ['--virtual-nodes', '3'] }, (s, c) => {
    server = s;
    creds = c;
  });

  before(async () => {
    await kubectlOk(server, v, ['create', 'namespace', ns]);
    // The pods wait for the namespace's default ServiceAccount.
    await waitForServiceAccount(server, ns);
    nodes = (await kubectlOk(server, v, ['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(/\s+/);
  });

  describe('OrderedReady set with claims (web)', () => {
    test('pods are made one at a time in ordinal order, each after its claim, the next once the previous is ready', async () => {
      await kubectlOk(server, v, ['apply', '-f', '-'], { input: webManifest });
      // web-0 exists, its claim first; the controller has counted it (replicas 1) and, web-0 not
      // being ready, made nothing more.
      await setStatus('web', (s) => s.status?.replicas === 1);
      const web0 = (await getPod('web-0'))!;
      assert.ok(await getClaim('www-web-0'), 'claim www-web-0');
      assert.equal(await getPod('web-1'), undefined, 'web-1 made before web-0 was ready');
      assert.deepEqual(web0.spec?.volumes?.find((x) => x.name === 'www')?.persistentVolumeClaim, { claimName: 'www-web-0' });

      await bind('web-0');
      await setStatus('web', (s) => s.status?.replicas === 2 && s.status.readyReplicas === 1);
      assert.equal(await getPod('web-2'), undefined, 'web-2 made before web-1 was ready');
      assert.ok(await getClaim('www-web-1'), 'claim www-web-1');
      await bind('web-1');
      await setStatus('web', (s) => s.status?.replicas === 3 && s.status.readyReplicas === 2);
      await bind('web-2');
      const s = await setStatus('web', settled(3));
      assert.equal(s.status?.availableReplicas, 3);
      assert.equal(s.status?.collisionCount, 0);

      const created = await Promise.all([0, 1, 2].map(async (i) => Date.parse((await getPod(`web-${i}`))!.metadata.creationTimestamp!)));
      assert.ok(created[0]! <= created[1]! && created[1]! <= created[2]!, `creation order ${created.join(' ')}`);
      // Events are written asynchronously: wait for them.
      await until('the creation events', async () => {
        const events = await kubectlOk(server, v, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=StatefulSet,involvedObject.name=web', '-o', 'jsonpath={range .items[*]}{.reason} {.message}{"\\n"}{end}']);
        return /SuccessfulCreate create Claim www-web-0 Pod web-0 in StatefulSet web success\n/.test(events) && /SuccessfulCreate create Pod web-2 in StatefulSet web successful\n/.test(events);
      });
    });

    test('pods carry their identity: labels, hostname and subdomain, published by the headless Service', async () => {
      const set = await getSet('web');
      for (const i of [0, 1, 2]) {
        const p = (await getPod(`web-${i}`))!;
        assert.equal(p.metadata.labels?.['statefulset.kubernetes.io/pod-name'], `web-${i}`);
        assert.equal(p.metadata.labels?.['apps.kubernetes.io/pod-index'], String(i));
        assert.equal(p.metadata.labels?.['controller-revision-hash'], set.status?.updateRevision);
        assert.equal(p.spec?.hostname, `web-${i}`);
        assert.equal(p.spec?.subdomain, 'web');
        assert.equal(p.metadata.generateName, 'web-');
        assert.deepEqual(p.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]), [['StatefulSet', 'web', set.metadata.uid, true]]);
      }
      const hostnames = await until('endpoint hostnames', async () => {
        const out = await kubectlOk(server, v, ['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=web', '-o', 'jsonpath={.items[*].endpoints[*].hostname}']);
        const names = out.trim().split(/\s+/).filter(Boolean).sort();
        return names.length === 3 ? names : undefined;
      });
      assert.deepEqual(hostnames, ['web-0', 'web-1', 'web-2']);
    });

    test('a deleted pod comes back under its name with the same claim', async () => {
      const before = (await getPod('web-1'))!;
      const claim = (await getClaim('www-web-1'))!;
      await kubectlOk(server, old, ['-n', ns, 'delete', 'pod', 'web-1', '--wait=false']);
      const back = await until('a new web-1', async () => {
        await bindPending('web');
        const p = await getPod('web-1');
        return p && p.metadata.uid !== before.metadata.uid ? p : undefined;
      }, { timeoutMs: 30_000 });
      assert.equal(back.spec?.volumes?.find((x) => x.name === 'www')?.persistentVolumeClaim?.claimName, 'www-web-1');
      assert.equal((await getClaim('www-web-1'))?.metadata.uid, claim.metadata.uid);
      await setStatus('web', settled(3), true);
    });

    test('scale down removes the highest ordinal first, and whenScaled Delete removes its claims', async () => {
      const watch = kubectlBackground(server, old, ['-n', ns, 'get', 'pods', '-l', 'app=web', '-w', '--output-watch-events', '-o', 'jsonpath={.type} {.object.metadata.name} {.object.metadata.deletionTimestamp}{"\\n"}']);
      try {
        await watch.waitFor((out) => /ADDED web-2/.test(out));
        await kubectlOk(server, old, ['-n', ns, 'scale', 'statefulset', 'web', '--replicas=1']);
        const out = await watch.waitFor((o) => /DELETED web-1/.test(o), 30_000);
        const lines = out.split('\n');
        const web2Gone = lines.findIndex((l) => l.startsWith('DELETED web-2'));
        const web1Deleting = lines.findIndex((l) => /^\S+ web-1 \S+/.test(l));
        assert.ok(web2Gone >= 0 && web1Deleting > web2Gone, `web-1 was deleted before web-2 was gone:\n${out}`);
      } finally {
        watch.stop();
      }
      await setStatus('web', settled(1));
      // The claims of the removed pods were handed to them and went with them; web-0's stays.
      await until('claims of web-1 and web-2 gone', async () => !(await getClaim('www-web-1')) && !(await getClaim('www-web-2')), { timeoutMs: 30_000 });
      const kept = (await getClaim('www-web-0'))!;
      assert.equal(kept.metadata.ownerReferences, undefined);
    });

    test('scaling up again makes fresh claims', async () => {
      await kubectlOk(server, v, ['-n', ns, 'scale', 'statefulset', 'web', '--replicas=3']);
      await setStatus('web', settled(3), true);
      for (const c of ['www-web-1', 'www-web-2']) assert.ok(await getClaim(c), c);
    });
  });

  /** A set without claims on the default scheduler. */
  const plainSet = (name: string, replicas: number, strategy?: string) => `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: ${replicas}
  serviceName: ${name}
${strategy ? `  updateStrategy: ${strategy}\n` : ''}  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: c, image: "busybox:1"}]
`;

  describe('RollingUpdate set (app)', () => {
    const rolloutStatus = async (minor: string) => {
      const r = await kubectl(server, minor, ['-n', ns, 'rollout', 'status', 'statefulset/app', '--timeout', '60s'], { timeoutMs: 70_000 });
      assert.equal(r.code, 0, r.stderr + r.stdout);
      return r.stdout.trim().split('\n').at(-1)!;
    };
    const images = async () => Object.fromEntries((await podsOf('app')).filter((p) => !p.metadata.deletionTimestamp).map((p) => [p.metadata.name, imageOf(p)]));
    const history = async (minor: string) => [...(await kubectlOk(server, minor, ['-n', ns, 'rollout', 'history', 'statefulset/app'])).matchAll(/^(\d+)\s/gm)].map((m) => m[1]);

    before(async () => {
      await kubectlOk(server, v, ['apply', '-f', '-'], { input: plainSet('app', 3) });
    });

    test('rollout status completes once every pod is ready', async () => {
      for (const minor of kubectlVersions) assert.match(await rolloutStatus(minor), /^partitioned roll out complete: 3 new pods have been updated\.\.\.$/);
    });

    test('a partition updates only the ordinals at or above it', async () => {
      await kubectlOk(server, v, ['-n', ns, 'patch', 'statefulset', 'app', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}']);
      await kubectlOk(server, v, ['-n', ns, 'set', 'image', 'statefulset/app', 'c=busybox:2']);
      const s = await setStatus('app', (x) => x.status?.observedGeneration === x.metadata.generation && x.status?.updatedReplicas === 1 && x.status.readyReplicas === 3);
      assert.notEqual(s.status?.currentRevision, s.status?.updateRevision);
      assert.equal(s.status?.currentReplicas, 2);
      assert.deepEqual(await images(), { 'app-0': 'busybox:1', 'app-1': 'busybox:1', 'app-2': 'busybox:2' });
      assert.equal((await getPod('app-2'))?.metadata.labels?.['controller-revision-hash'], s.status?.updateRevision);
      assert.equal((await getPod('app-0'))?.metadata.labels?.['controller-revision-hash'], s.status?.currentRevision);
      assert.match(await rolloutStatus(v), /^partitioned roll out complete: 1 new pods have been updated\.\.\.$/);
    });

    test('partition 0 finishes the update in reverse ordinal order', async () => {
      await kubectlOk(server, old, ['-n', ns, 'patch', 'statefulset', 'app', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}']);
      const s = await setStatus('app', settled(3));
      assert.deepEqual(await images(), { 'app-0': 'busybox:2', 'app-1': 'busybox:2', 'app-2': 'busybox:2' });
      const created = await Promise.all([0, 1].map(async (i) => Date.parse((await getPod(`app-${i}`))!.metadata.creationTimestamp!)));
      assert.ok(created[1]! <= created[0]!, 'app-1 was replaced before app-0');
      assert.equal(s.status?.currentReplicas, 3);
    });

    test('rollout history lists the revisions and shows a revision\'s template', async () => {
      for (const minor of kubectlVersions) {
        assert.deepEqual(await history(minor), ['1', '2']);
        const one = await kubectlOk(server, minor, ['-n', ns, 'rollout', 'history', 'statefulset/app', '--revision=1']);
        assert.match(one, /Image:\s+busybox:1/);
      }
    });

    test('rollout undo restores the previous template as a new revision; undo to the current one is skipped', async () => {
      const skipped = await kubectlOk(server, v, ['-n', ns, 'rollout', 'undo', 'statefulset/app', '--to-revision=2']);
      assert.match(skipped, /skipped rollback \(current template already matches revision 2\)/);
      assert.match(await kubectlOk(server, old, ['-n', ns, 'rollout', 'undo', 'statefulset/app']), /rolled back/);
      await setStatus('app', (s) => settled(3)(s) && imageOf({ metadata: {}, spec: s.spec?.template.spec }) === 'busybox:1');
      assert.deepEqual(await images(), { 'app-0': 'busybox:1', 'app-1': 'busybox:1', 'app-2': 'busybox:1' });
      assert.deepEqual(await history(v), ['2', '3']);
      assert.match(await rolloutStatus(v), /complete/);
    });

    test('kubectl scale resizes the set', async () => {
      await kubectlOk(server, old, ['-n', ns, 'scale', 'statefulset/app', '--replicas=4']);
      await setStatus('app', settled(4));
      await kubectlOk(server, v, ['-n', ns, 'scale', 'statefulset/app', '--replicas=2']);
      await setStatus('app', settled(2));
      assert.deepEqual(Object.keys(await images()).sort(), ['app-0', 'app-1']);
    });
  });

  describe('OnDelete set (ondel)', () => {
    test('a new template reaches only the pods deleted by hand', async () => {
      await kubectlOk(server, v, ['apply', '-f', '-'], { input: plainSet('ondel', 2, '{type: OnDelete}') });
      const first = await setStatus('ondel', settled(2));
      await kubectlOk(server, v, ['-n', ns, 'set', 'image', 'statefulset/ondel', 'c=busybox:2']);
      const s = await setStatus('ondel', (x) => x.status?.observedGeneration === x.metadata.generation && x.status?.updateRevision !== first.status?.updateRevision);
      assert.equal(s.status?.updatedReplicas ?? 0, 0);
      assert.equal(s.status?.currentRevision, first.status?.currentRevision);
      assert.equal(imageOf(await getPod('ondel-1')), 'busybox:1');
      const before = (await getPod('ondel-1'))!;
      await kubectlOk(server, v, ['-n', ns, 'delete', 'pod', 'ondel-1', '--wait=false']);
      await until('ondel-1 at busybox:2', async () => {
        const p = await getPod('ondel-1');
        return p && p.metadata.uid !== before.metadata.uid && imageOf(p) === 'busybox:2' && p.status?.phase === 'Running';
      });
      const after = await setStatus('ondel', (x) => x.status?.updatedReplicas === 1 && x.status.readyReplicas === 2);
      assert.equal(after.status?.currentReplicas, 1);
      assert.equal(imageOf(await getPod('ondel-0')), 'busybox:1');
    });
  });
});

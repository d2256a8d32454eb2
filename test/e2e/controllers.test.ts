/**
 * Issue 4 end to end: the controller manager inside `bin/bosun server --disable-agent`, driven
 * with the real kubectl. The test plays the kubelet: it marks pods Running and Ready (with a pod
 * IP) through the pods/status subresource, and can hold pods unready to watch a rollout step.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, kubectl, kubectlOk, until, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig, request, type Creds } from './api.ts';

let server: ServerHandle;
let creds: Creds;
const v = '33';

before(async () => {
  // The test plays the kubelet for pods that no scheduler places (issue 4's setting).
  server = await startServer({ args: ['--disable-scheduler'] });
  creds = credsFromKubeconfig(server.kubeconfig);
});

after(async () => {
  fakeKubelet.stop();
  await server?.stop();
});

interface Pod {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[]; deletionTimestamp?: string };
  spec: { containers: { name: string; image: string }[] };
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

async function getJson<T = any>(path: string): Promise<T> {
  const r = await request(creds, 'GET', path);
  assert.equal(r.status, 200, `${path}: ${r.body}`);
  return JSON.parse(r.body) as T;
}

async function pods(ns: string, selector = ''): Promise<Pod[]> {
  const q = selector ? `?labelSelector=${encodeURIComponent(selector)}` : '';
  return (await getJson<{ items: Pod[] }>(`/api/v1/namespaces/${ns}/pods${q}`)).items;
}

const isReady = (p: Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Marks pods Running and Ready, unless `hold` says to keep a pod unready. */
const fakeKubelet = (() => {
  let timer: NodeJS.Timeout | undefined;
  let ip = 10;
  const namespaces = new Set<string>();
  let hold: (p: Pod) => boolean = () => false;
  /** Pods start after this long (ms since the kubelet first saw them), like a real node would. */
  let startupMs = 0;
  const firstSeen = new Map<string, number>();
  async function tick(): Promise<void> {
    for (const ns of namespaces) {
      for (const p of await pods(ns).catch(() => [] as Pod[])) {
        if (!firstSeen.has(p.metadata.uid)) firstSeen.set(p.metadata.uid, Date.now());
        if (Date.now() - firstSeen.get(p.metadata.uid)! < startupMs) continue;
        if (isReady(p) || p.metadata.deletionTimestamp || hold(p)) continue;
        const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
        const status = {
          phase: 'Running',
          podIP: `10.244.0.${ip}`,
          podIPs: [{ ip: `10.244.0.${ip}` }],
          hostIP: '127.0.0.1',
          startTime: now,
          conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })),
          containerStatuses: p.spec.containers.map((c) => ({ name: c.name, image: c.image, imageID: '', ready: true, restartCount: 0, started: true, state: { running: { startedAt: now } } })),
        };
        ip = ip >= 250 ? 10 : ip + 1;
        await request(creds, 'PATCH', `/api/v1/namespaces/${ns}/pods/${p.metadata.name}/status`, {
          body: JSON.stringify({ status }),
          headers: { 'content-type': 'application/merge-patch+json' },
        });
      }
    }
  }
  function loop(): void {
    timer = setTimeout(() => void tick().finally(() => timer && loop()), 100);
  }
  return {
    watch(ns: string) {
      namespaces.add(ns);
      if (!timer) loop();
    },
    hold(fn: (p: Pod) => boolean) {
      hold = fn;
    },
    startup(ms: number) {
      startupMs = ms;
    },
    stop() {
      const t = timer;
      timer = undefined;
      if (t) clearTimeout(t);
    },
  };
})();


describe('Deployments', () => {
  const ns = 'rollouts';
  before(async () => {
    await kubectlOk(server, v, ['create', 'namespace', ns]);
    // The pods wait for the namespace's default ServiceAccount.
    await waitForServiceAccount(server, ns);
    fakeKubelet.watch(ns);
  });

  test('a Deployment creates its ReplicaSet and pods with owner references, and rollout status completes', async () => {
    await kubectlOk(server, v, ['-n', ns, 'create', 'deployment', 'web', '--image', 'busybox:1', '--replicas', '3']);
    const r = await kubectl(server, v, ['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout', '30s'], { timeoutMs: 40_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deployment "web" successfully rolled out/);
    const rs = (await getJson<{ items: any[] }>(`/apis/apps/v1/namespaces/${ns}/replicasets`)).items;
    assert.equal(rs.length, 1);
    const d = await getJson(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
    assert.deepEqual(rs[0].metadata.ownerReferences.map((o: any) => [o.kind, o.name, o.uid, o.controller]), [['Deployment', 'web', d.metadata.uid, true]]);
    assert.match(rs[0].metadata.name, /^web-[a-z0-9]+$/);
    assert.equal(rs[0].metadata.annotations['deployment.kubernetes.io/revision'], '1');
    const ps = await pods(ns, 'app=web');
    assert.equal(ps.length, 3);
    for (const p of ps) assert.deepEqual(p.metadata.ownerReferences!.map((o) => [o.kind, o.name, o.controller]), [['ReplicaSet', rs[0].metadata.name, true]]);
    assert.equal(d.status.availableReplicas, 3);
    assert.equal(d.status.observedGeneration, d.metadata.generation);
    assert.ok(d.status.conditions.some((c: any) => c.type === 'Available' && c.status === 'True'));
  });

  test('scale changes the number of pods', async () => {
    await kubectlOk(server, v, ['-n', ns, 'scale', 'deployment/web', '--replicas=4']);
    await until('4 ready pods', async () => (await pods(ns, 'app=web')).filter((p) => isReady(p) && !p.metadata.deletionTimestamp).length === 4);
  });

  test('set image rolls a new ReplicaSet within maxSurge and maxUnavailable at every step', async () => {
    // 4 replicas, defaults 25%/25%: at most 5 pods, at least 3 available at any time. New pods
    // take 400 ms to start, so the rollout goes through observable steps.
    fakeKubelet.startup(400);
    await kubectlOk(server, v, ['-n', ns, 'set', 'image', 'deployment/web', 'busybox=busybox:2']);
    let sawNew = false;
    let sawMixed = false;
    await until('the rollout to finish', async () => {
      const ps = (await pods(ns, 'app=web')).filter((p) => !p.metadata.deletionTimestamp);
      const ready = ps.filter(isReady);
      assert.ok(ps.length <= 5, `${ps.length} pods exceed replicas + maxSurge`);
      assert.ok(ready.length >= 3, `${ready.length} ready pods fall below replicas - maxUnavailable`);
      sawNew ||= ps.some((p) => p.spec.containers[0]!.image === 'busybox:2');
      sawMixed ||= ready.some((p) => p.spec.containers[0]!.image === 'busybox:2') && ready.some((p) => p.spec.containers[0]!.image === 'busybox:1');
      const d = await getJson(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
      return sawNew && d.status.updatedReplicas === 4 && d.status.availableReplicas === 4 && d.status.replicas === 4 && d.status.observedGeneration === d.metadata.generation;
    }, { timeoutMs: 30_000 });
    fakeKubelet.startup(0);
    assert.ok(sawMixed, 'the rollout never had old and new pods ready side by side');
    const rs = (await getJson<{ items: any[] }>(`/apis/apps/v1/namespaces/${ns}/replicasets`)).items;
    assert.equal(rs.length, 2);
    const byRev = Object.fromEntries(rs.map((r) => [r.metadata.annotations['deployment.kubernetes.io/revision'], r]));
    assert.equal(byRev['2'].spec.replicas, 4);
    assert.equal(byRev['1'].spec.replicas, 0);
  });

  test('rollout history lists both revisions and undo goes back to the first image', async () => {
    const h = await kubectlOk(server, v, ['-n', ns, 'rollout', 'history', 'deployment/web']);
    assert.match(h, /^1\s/m);
    assert.match(h, /^2\s/m);
    await kubectlOk(server, v, ['-n', ns, 'rollout', 'undo', 'deployment/web']);
    const r = await kubectl(server, v, ['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout', '30s'], { timeoutMs: 40_000 });
    assert.equal(r.code, 0, r.stderr);
    const ps = (await pods(ns, 'app=web')).filter((p) => !p.metadata.deletionTimestamp);
    await until('old pods gone', async () => (await pods(ns, 'app=web')).filter((p) => !p.metadata.deletionTimestamp).every((p) => p.spec.containers[0]!.image === 'busybox:1'));
    assert.ok(ps.length >= 4);
    const h2 = await kubectlOk(server, v, ['-n', ns, 'rollout', 'history', 'deployment/web']);
    assert.match(h2, /^3\s/m);
  });

  test('pause holds a template change back; resume rolls it out', async () => {
    await kubectlOk(server, v, ['-n', ns, 'rollout', 'pause', 'deployment/web']);
    await kubectlOk(server, v, ['-n', ns, 'set', 'image', 'deployment/web', 'busybox=busybox:paused']);
    await until('the Progressing condition to say paused', async () => {
      const d = await getJson(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
      return d.status.conditions.some((c: any) => c.type === 'Progressing' && c.reason === 'DeploymentPaused');
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.ok((await pods(ns, 'app=web')).every((p) => p.spec.containers[0]!.image !== 'busybox:paused'), 'a paused deployment rolled out');
    await kubectlOk(server, v, ['-n', ns, 'rollout', 'resume', 'deployment/web']);
    const r = await kubectl(server, v, ['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout', '30s'], { timeoutMs: 40_000 });
    assert.equal(r.code, 0, r.stderr);
    await until('every pod to run the new image', async () => (await pods(ns, 'app=web')).filter((p) => !p.metadata.deletionTimestamp).every((p) => p.spec.containers[0]!.image === 'busybox:paused'));
  });

  test('Recreate removes every old pod before creating new ones', async () => {
    await kubectlOk(server, v, ['-n', ns, 'create', 'deployment', 'rec', '--image', 'busybox:1', '--replicas', '2']);
    await kubectlOk(server, v, ['-n', ns, 'patch', 'deployment', 'rec', '-p', JSON.stringify({ spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } })]);
    await kubectl(server, v, ['-n', ns, 'rollout', 'status', 'deployment/rec', '--timeout', '30s'], { timeoutMs: 40_000 });
    fakeKubelet.startup(400);
    await kubectlOk(server, v, ['-n', ns, 'set', 'image', 'deployment/rec', 'busybox=busybox:2']);
    let sawNone = false;
    await until('the recreate rollout to finish', async () => {
      const ps = (await pods(ns, 'app=rec')).filter((p) => !p.metadata.deletionTimestamp);
      const images = new Set(ps.map((p) => p.spec.containers[0]!.image));
      assert.ok(images.size <= 1, 'old and new pods ran side by side under Recreate');
      sawNone ||= ps.length === 0 || ps.every((p) => !isReady(p));
      return ps.length === 2 && images.has('busybox:2') && ps.every(isReady);
    });
    fakeKubelet.startup(0);
    assert.ok(sawNone, 'never saw the moment between the old pods and the new ones');
  });

  test('a ReplicationController keeps its replicas', async () => {
    const rc = { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'rc1' }, spec: { replicas: 2, selector: { app: 'rc1' }, template: { metadata: { labels: { app: 'rc1' } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } } } };
    assert.equal((await request(creds, 'POST', `/api/v1/namespaces/${ns}/replicationcontrollers`, { body: JSON.stringify(rc) })).status, 201);
    await until('2 ready pods and the RC status', async () => {
      const st = (await getJson(`/api/v1/namespaces/${ns}/replicationcontrollers/rc1`)).status ?? {};
      return st.readyReplicas === 2 && (await pods(ns, 'app=rc1')).length === 2;
    });
    const victim = (await pods(ns, 'app=rc1'))[0]!;
    await kubectlOk(server, v, ['-n', ns, 'delete', 'pod', victim.metadata.name, '--wait=false']);
    await until('a replacement pod', async () => {
      const ps = (await pods(ns, 'app=rc1')).filter((p) => !p.metadata.deletionTimestamp);
      return ps.length === 2 && !ps.some((p) => p.metadata.uid === victim.metadata.uid);
    });
  });

  test('a Service lists the ready pods in its Endpoints and EndpointSlice', async () => {
    await kubectlOk(server, v, ['-n', ns, 'expose', 'deployment/web', '--port', '80', '--target-port', '8080']);
    const want = async () => (await pods(ns, 'app=web')).filter((p) => isReady(p) && !p.metadata.deletionTimestamp).map((p) => p.status!.podIP!).sort();
    await until('endpoints to list the ready pods', async () => {
      const ep = await request(creds, 'GET', `/api/v1/namespaces/${ns}/endpoints/web`);
      if (ep.status !== 200) return false;
      const ips = (JSON.parse(ep.body).subsets ?? []).flatMap((s: any) => (s.addresses ?? []).map((a: any) => a.ip)).sort();
      return JSON.stringify(ips) === JSON.stringify(await want()) && ips.length === 4;
    });
    const slices = await until('an EndpointSlice', async () => {
      const s = await getJson<{ items: any[] }>(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb`);
      const ready = s.items.flatMap((x) => x.endpoints ?? []).filter((e: any) => e.conditions?.ready).flatMap((e: any) => e.addresses).sort();
      return JSON.stringify(ready) === JSON.stringify(await want()) ? s.items : null;
    });
    assert.equal(slices[0].ports[0].port, 8080);
  });
});

describe('deletion', () => {
  const ns = 'deletion';
  before(async () => {
    await kubectlOk(server, v, ['create', 'namespace', ns]);
    await waitForServiceAccount(server, ns);
    fakeKubelet.watch(ns);
  });

  for (const cascade of ['background', 'foreground', 'orphan'] as const) {
    test(`--cascade=${cascade}`, async () => {
      const name = `d-${cascade}`;
      await kubectlOk(server, v, ['-n', ns, 'create', 'deployment', name, '--image', 'busybox:1', '--replicas', '2']);
      await until('2 pods', async () => (await pods(ns, `app=${name}`)).length === 2);
      await kubectlOk(server, v, ['-n', ns, 'delete', 'deployment', name, `--cascade=${cascade}`, '--wait=false']);
      await until('the deployment to be gone', async () => (await request(creds, 'GET', `/apis/apps/v1/namespaces/${ns}/deployments/${name}`)).status === 404);
      const rs = async () => (await getJson<{ items: any[] }>(`/apis/apps/v1/namespaces/${ns}/replicasets?labelSelector=app%3D${name}`)).items;
      if (cascade === 'orphan') {
        await new Promise((r) => setTimeout(r, 1000));
        const left = await rs();
        assert.equal(left.length, 1);
        assert.equal(left[0].metadata.ownerReferences, undefined);
        assert.equal((await pods(ns, `app=${name}`)).length, 2);
      } else {
        await until('the ReplicaSet and pods to be gone', async () => (await rs()).length === 0 && (await pods(ns, `app=${name}`)).length === 0);
      }
    });
  }

  test('deleting a namespace deletes its content, then the namespace', async () => {
    await kubectlOk(server, v, ['create', 'namespace', 'doomed']);
    fakeKubelet.watch('doomed');
    await kubectlOk(server, v, ['-n', 'doomed', 'create', 'configmap', 'c1', '--from-literal=a=b']);
    await kubectlOk(server, v, ['-n', 'doomed', 'create', 'deployment', 'x', '--image', 'busybox:1']);
    const r = await kubectl(server, v, ['delete', 'namespace', 'doomed', '--timeout=30s'], { timeoutMs: 40_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await request(creds, 'GET', '/api/v1/namespaces/doomed')).status, 404);
  });

  test('every namespace gets a default ServiceAccount', async () => {
    await kubectlOk(server, v, ['create', 'namespace', 'with-sa']);
    await until('the default ServiceAccount', async () => (await request(creds, 'GET', '/api/v1/namespaces/with-sa/serviceaccounts/default')).status === 200);
  });
});

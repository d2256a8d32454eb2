/**
 * metrics.k8s.io and `kubectl top` against `bosun server --virtual-nodes 2` (the metrics server
 * scraping every second through BOSUN_METRIC_RESOLUTION), with kubectl 1.27 and 1.33:
 * `top node` lists both simulated nodes with their base usage plus their pods'; `top pod` shows
 * the usage the pods' `metrics.bosun.dev/*` annotations give (250m / 64Mi per container), per
 * container with `--containers`, across namespaces with `-A`, filtered with `-l`; an unknown pod
 * or node is upstream's NotFound; a user without `get`/`list` on metrics.k8s.io is refused with
 * upstream's Forbidden and allowed once a ClusterRole grants them; other verbs are 405;
 * `kubectl explain` and `kubectl get podmetrics` read the OpenAPI schemas and Table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig, request } from './api.ts';

// The spawned server inherits the environment: scrape every second.
process.env['BOSUN_METRIC_RESOLUTION'] = '1s';

let server!: ServerHandle;
useServer({ args: ['--virtual-nodes', '2'] }, (s) => (server = s));
const newest = kubectlVersions.at(-1)!;

const annotations = { 'metrics.bosun.dev/cpu': '250m', 'metrics.bosun.dev/memory': '64Mi' };
const pod = (name: string, namespace: string, labels: Record<string, string>, containers: string[]) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels, annotations },
  spec: { containers: containers.map((c) => ({ name: c, image: 'busybox', command: ['sleep', '3600'] })) },
});

/** Table rows of kubectl top's output, header first, split on runs of spaces. */
const rows = (out: string) => out.trim().split('\n').map((l) => l.trim().split(/\s+/));

/** Runs kubectl until it succeeds with output that `ok` accepts (the metrics appear one resolution after the pods run). */
async function topUntil(v: string, args: string[], ok: (out: string) => boolean): Promise<string> {
  let last = '';
  return until(`kubectl ${v} ${args.join(' ')}`, async () => {
    const r = await kubectl(server, v, args);
    last = `${r.stdout}${r.stderr}`;
    return r.code === 0 && ok(r.stdout) ? r.stdout : undefined;
  }, { timeoutMs: 30_000, detail: () => last });
}

test('kubectl top: nodes, pods, containers, selectors, errors and RBAC', { timeout: 150_000 }, async (t) => {
  await kubectlOk(server, newest, ['create', 'namespace', 'shop']);
  await waitForServiceAccount(server, 'default');
  await waitForServiceAccount(server, 'shop');
  const items = [pod('web-1', 'default', { app: 'web' }, ['app']), pod('web-2', 'default', { app: 'web' }, ['app', 'sidecar']), pod('db-1', 'default', { app: 'db' }, ['db']), pod('cart', 'shop', { app: 'cart' }, ['app'])];
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });

  await t.test('top node lists both simulated nodes: 50m and 128Mi each plus their pods', async () => {
    for (const v of kubectlVersions) {
      // 5 containers at 250m / 64Mi run over the two nodes: the nodes use 1350m and 448Mi together.
      const out = await topUntil(v, ['top', 'node'], (o) => {
        const r = rows(o).slice(1);
        const cpu = r.reduce((n, row) => n + Number(row[1]!.replace(/m$/, '')), 0);
        return r.length === 2 && cpu === 1350;
      });
      const r = rows(out);
      assert.match(r[0]!.join(' '), /^NAME CPU\(cores\) CPU%|^NAME CPU\(cores\) CPU\(%\)/);
      assert.deepEqual(r.slice(1).map((row) => row[0]).sort(), ['virtual-node-0', 'virtual-node-1']);
      assert.equal(r.slice(1).reduce((n, row) => n + Number(row[3]!.replace(/Mi$/, '')), 0), 2 * 128 + 5 * 64);
      const one = rows(await kubectlOk(server, v, ['top', 'node', 'virtual-node-0']));
      assert.equal(one.length, 2);
      assert.equal(one[1]![0], 'virtual-node-0');
    }
  });

  await t.test('top pod shows each pod’s annotated usage, summed over its containers', async () => {
    for (const v of kubectlVersions) {
      const out = await topUntil(v, ['top', 'pod'], (o) => rows(o).length === 4);
      assert.deepEqual(rows(out).slice(1), [
        ['db-1', '250m', '64Mi'],
        ['web-1', '250m', '64Mi'],
        ['web-2', '500m', '128Mi'],
      ]);
    }
  });

  await t.test('--containers lists every container; -l filters; -A spans namespaces', async () => {
    for (const v of kubectlVersions) {
      assert.deepEqual(rows(await kubectlOk(server, v, ['top', 'pod', 'web-2', '--containers'])).slice(1), [
        ['web-2', 'app', '250m', '64Mi'],
        ['web-2', 'sidecar', '250m', '64Mi'],
      ]);
      assert.deepEqual(rows(await kubectlOk(server, v, ['top', 'pod', '-l', 'app=web'])).slice(1).map((r) => r[0]), ['web-1', 'web-2']);
      const all = await topUntil(v, ['top', 'pod', '-A'], (o) => o.includes('cart'));
      assert.deepEqual(rows(all).slice(1).map((r) => `${r[0]}/${r[1]}`), ['default/db-1', 'default/web-1', 'default/web-2', 'shop/cart']);
      assert.deepEqual(rows(await kubectlOk(server, v, ['top', 'pod', '-n', 'shop', '--containers'])).slice(1), [['cart', 'app', '250m', '64Mi']]);
    }
  });

  await t.test('an unknown pod or node is NotFound as metrics-server answers it', async () => {
    for (const v of kubectlVersions) {
      const p = await kubectl(server, v, ['top', 'pod', 'nope']);
      assert.notEqual(p.code, 0);
      assert.match(p.stderr, /Error from server \(NotFound\): pods "nope" not found/);
      const n = await kubectl(server, v, ['top', 'node', 'nope']);
      assert.notEqual(n.code, 0);
      assert.match(n.stderr, /Error from server \(NotFound\): node "nope" not found/);
    }
  });

  await t.test('a user without get/list on metrics.k8s.io is refused; a ClusterRole granting them lets kubectl top through', async () => {
    for (const v of kubectlVersions) {
      const pods = await kubectl(server, v, ['top', 'pod', '--as', 'jane']);
      assert.notEqual(pods.code, 0);
      assert.match(pods.stderr, /pods\.metrics\.k8s\.io is forbidden: User "jane" cannot list resource "pods" in API group "metrics\.k8s\.io" in the namespace "default"/);
      const nodes = await kubectl(server, v, ['top', 'node', '--as', 'jane']);
      assert.match(nodes.stderr, /nodes\.metrics\.k8s\.io is forbidden: User "jane" cannot list resource "nodes" in API group "metrics\.k8s\.io" at the cluster scope/);
    }
    await kubectlOk(server, newest, ['create', 'clusterrole', 'metrics-reader', '--verb=get,list', '--resource=pods.metrics.k8s.io,nodes.metrics.k8s.io']);
    await kubectlOk(server, newest, ['create', 'clusterrolebinding', 'jane-metrics', '--clusterrole=metrics-reader', '--user=jane']);
    // kubectl top pod also reads the pods when the list is empty; here it is not, so metrics.k8s.io alone suffices.
    for (const v of kubectlVersions) {
      const out = await topUntil(v, ['top', 'pod', '-l', 'app=db', '--as', 'jane'], (o) => o.includes('db-1'));
      assert.deepEqual(rows(out)[1], ['db-1', '250m', '64Mi']);
    }
  });

  await t.test('the API answers get and list only, in discovery and on the wire; explain and get read its schemas and Table', async () => {
    const creds = credsFromKubeconfig(server.kubeconfig);
    const disco = (await request(creds, 'GET', '/apis/metrics.k8s.io/v1beta1')).json();
    assert.deepEqual(disco.resources.map((r: { name: string; verbs: string[] }) => `${r.name}:${r.verbs.join(',')}`), ['nodes:get,list', 'pods:get,list']);
    const one = (await request(creds, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web-1')).json();
    assert.equal(one.kind, 'PodMetrics');
    assert.match(one.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(one.window, '1s');
    assert.deepEqual(one.containers, [{ name: 'app', usage: { cpu: '250m', memory: '64Mi' } }]);
    const post = await request(creds, 'POST', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods', { body: '{}' });
    assert.equal(post.status, 405);
    const watch = await request(creds, 'GET', '/apis/metrics.k8s.io/v1beta1/pods?watch=true');
    assert.equal(watch.status, 405);
    assert.equal(watch.json().message, 'watch is not supported on resources of kind "pods.metrics.k8s.io"');
    for (const v of kubectlVersions) assert.match(await kubectlOk(server, v, ['explain', 'podmetrics.containers']), /Container name corresponding to the one from pod\.spec\.containers/);
    const table = await kubectlOk(server, newest, ['get', 'podmetrics', '-l', 'app=web']);
    assert.deepEqual(rows(table), [['NAME', 'CPU', 'MEMORY', 'WINDOW'], ['web-1', '250m', '64Mi', '1s'], ['web-2', '500m', '128Mi', '1s']]);
  });
});

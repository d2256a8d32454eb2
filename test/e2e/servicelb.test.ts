/**
 * ServiceLB end to end: a `type: LoadBalancer` Service of busybox httpd pods gets the node's
 * address as its EXTERNAL-IP (src/controllers/servicelb.ts) and the service proxy answers there
 * at the Service's port, from a pod and from the host; a Service of another loadBalancerClass
 * stays `<pending>`; loadBalancerSourceRanges drop other sources (KUBE-FW); turning a Service into a
 * ClusterIP one clears its ingress; the ingress follows the nodes (simulated ones); and with
 * `--disable servicelb` no ingress is set. Run under the machine-wide agent lock:
 *   flock /tmp/bosun-agent.lock node --test test/e2e/servicelb.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { EndpointSlice, Event, Node, Service } from '../../src/api/index.ts';
import { bosunBin, kubectl, kubectlOk, kubectlVersions, startServer, until, waitForServiceAccount, useServer, type ServerHandle } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';
import { expectNoProxyChainsAfterwards } from './network.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
let server!: ServerHandle;
if (!skip) useServer({ agent: true }, (s) => (server = s));
// Runs after useServer's own clean-up: no chain is left.
if (!skip) expectNoProxyChainsAfterwards();
const v = kubectlVersions.at(-1)!;
const nodeIP = '10.42.0.1';
/** The load balancer's port: not one the node itself listens on. */
const lbPort = 8088;

const httpd = {
  name: 'httpd',
  image: busyboxImage,
  command: ['sh', '-c', 'mkdir -p /www && echo "$HOSTNAME" > /www/index.html && exec httpd -f -p 8080 -h /www'],
  ports: [{ containerPort: 8080 }],
  readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
};
const lbService = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: lbPort, targetPort: 8080 }], ...extra },
});

async function json<T>(s: ServerHandle, args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk(s, v, [...args, '-o', 'json'])) as T;
}

/** The EXTERNAL-IP column of `kubectl get svc NAME`. */
async function externalIP(s: ServerHandle, name: string): Promise<string> {
  const out = await kubectlOk(s, v, ['get', 'svc', name, '--no-headers']);
  return out.trim().split(/\s+/)[3] ?? '';
}

async function reasons(s: ServerHandle, name: string): Promise<string[]> {
  const list = await json<{ items: Event[] }>(s, ['get', 'events', '--field-selector', `involvedObject.kind=Service,involvedObject.name=${name}`]);
  return list.items.map((e) => e.reason ?? '');
}

/**
 * One wget from `pod` (or the host when pod is undefined); the body, or `ERR ...`. In the pod the
 * deadline is `timeout 3` rather than `wget -T 3`: this busybox build's wget crashes with -T.
 */
async function wget(pod: string | undefined, url: string): Promise<string> {
  if (pod) {
    const r = await kubectl(server, v, ['exec', pod, '--', 'sh', '-c', `out=$(timeout 3 wget -q -O - ${url} 2>&1); rc=$?; if [ $rc = 0 ]; then echo "$out"; else echo "ERR $rc: $out"; fi`], { timeoutMs: 20_000 });
    return r.code === 0 ? r.stdout.trim() : `ERR exec ${r.code}: ${r.stdout} ${r.stderr}`;
  }
  return new Promise((resolve) => {
    execFile('wget', ['-T', '3', '-t', '1', '-O', '-', url], { timeout: 10_000 }, (err, stdout, stderr) => resolve(err ? `ERR ${err.message} ${stderr}` : stdout.trim()));
  });
}

test('a LoadBalancer Service gets the node address and answers there, from a pod and from the host', { skip, timeout: 150_000 }, async (t) => {
  // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'default');
  const items = [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { terminationGracePeriodSeconds: 1, containers: [httpd] } } },
    },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', labels: { app: 'client' } }, spec: { terminationGracePeriodSeconds: 1, containers: [httpd] } },
    lbService('web-lb'),
    lbService('web-other', { loadBalancerClass: 'example.com/other', ports: [{ port: lbPort + 1, targetPort: 8080 }] }),
    // Sources limited to a documentation range: neither pods nor the host may use it.
    lbService('web-fw', { ports: [{ port: lbPort + 2, targetPort: 8080 }], loadBalancerSourceRanges: ['192.0.2.0/24'] }),
  ];
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
  const detail = () => server.output().slice(-3000);

  await t.test('kubectl get svc shows EXTERNAL-IP = the node IP, ingress ipMode VIP, with upstream events', async () => {
    await until('EXTERNAL-IP of web-lb', async () => (await externalIP(server, 'web-lb')) === nodeIP, { timeoutMs: 30_000, detail });
    const svc = await json<Service>(server, ['get', 'svc', 'web-lb']);
    assert.deepEqual(svc.status?.loadBalancer?.ingress, [{ ip: nodeIP, ipMode: 'VIP' }]);
    const node = (await json<{ items: Node[] }>(server, ['get', 'nodes'])).items[0]!;
    assert.ok(node.status?.addresses?.some((a) => a.type === 'InternalIP' && a.address === nodeIP), 'the ingress is the node InternalIP');
    const seen = await until('EnsuringLoadBalancer and EnsuredLoadBalancer events', async () => {
      const r = await reasons(server, 'web-lb');
      return r.includes('EnsuringLoadBalancer') && r.includes('EnsuredLoadBalancer') ? r : undefined;
    }, { timeoutMs: 15_000 });
    assert.ok(seen.length >= 2);
  });

  await t.test('a Service of another loadBalancerClass stays <pending>', async () => {
    // web-lb got its address above, so the controller has seen web-other too.
    assert.equal(await externalIP(server, 'web-other'), '<pending>');
    const svc = await json<Service>(server, ['get', 'svc', 'web-other']);
    assert.deepEqual(svc.status?.loadBalancer?.ingress ?? [], []);
  });

  await kubectlOk(server, v, ['rollout', 'status', 'deployment/web', '--timeout=60s']);
  await kubectlOk(server, v, ['wait', '--for=condition=Ready', 'pod/client', '--timeout=60s']);
  const pods = (await json<{ items: { metadata: { name: string } }[] }>(server, ['get', 'pods', '-l', 'app=web'])).items.map((p) => p.metadata.name);
  assert.equal(pods.length, 2);

  await t.test('wget to NODEIP:PORT reaches the pods from a pod', async () => {
    let last = '';
    const body = await until('an answer through the load balancer from a pod', async () => {
      const b = (last = await wget('client', `http://${nodeIP}:${lbPort}/`));
      return pods.includes(b) ? b : undefined;
    }, { timeoutMs: 20_000, detail: () => `last answer: ${last}\n${detail()}` });
    assert.ok(pods.includes(body));
  });

  await t.test('wget to NODEIP:PORT reaches the pods from the host', async () => {
    const body = await until('an answer through the load balancer from the host', async () => {
      const b = await wget(undefined, `http://${nodeIP}:${lbPort}/`);
      return pods.includes(b) ? b : undefined;
    }, { timeoutMs: 20_000, detail });
    assert.ok(pods.includes(body));
  });

  await t.test('loadBalancerSourceRanges: other sources are dropped; a range with the pods and the node lets both in', async () => {
    await until('EXTERNAL-IP of web-fw', async () => (await externalIP(server, 'web-fw')) === nodeIP, { timeoutMs: 15_000, detail });
    const url = `http://${nodeIP}:${lbPort + 2}/`;
    // Dropped, not refused: the connection attempts time out (exit 143: killed by `timeout`).
    let last = '';
    await until('a pod outside the ranges dropped', async () => /^ERR 143/.test((last = await wget('client', url))), { timeoutMs: 20_000, detail: () => `last answer: ${last}` });
    await until('the host outside the ranges dropped', async () => /timed out/i.test((last = await wget(undefined, url))), { timeoutMs: 20_000, detail: () => `last answer: ${last}` });
    await kubectlOk(server, v, ['patch', 'svc', 'web-fw', '--type=merge', '-p', JSON.stringify({ spec: { loadBalancerSourceRanges: ['10.42.0.0/16'] } })]);
    await until('an answer from a pod inside the range', async () => pods.includes((last = await wget('client', url))), { timeoutMs: 20_000, detail: () => `last answer: ${last}` });
    await until('an answer from the host (the node address is in the range)', async () => pods.includes((last = await wget(undefined, url))), { timeoutMs: 20_000, detail: () => `last answer: ${last}` });
  });

  await t.test('a Service that stops being a LoadBalancer loses its ingress and address', async () => {
    await kubectlOk(server, v, ['patch', 'svc', 'web-lb', '--type=merge', '-p', JSON.stringify({ spec: { type: 'ClusterIP', externalTrafficPolicy: null, allocateLoadBalancerNodePorts: null, ports: [{ port: lbPort, targetPort: 8080, nodePort: null }] } })]);
    const svc = await json<Service>(server, ['get', 'svc', 'web-lb']);
    assert.deepEqual(svc.status?.loadBalancer?.ingress ?? [], []);
    await until('DeletedLoadBalancer event', async () => (await reasons(server, 'web-lb')).includes('DeletedLoadBalancer'), { timeoutMs: 15_000, detail });
    const refused = await until('the load balancer address no longer answering from the host', async () => {
      const b = await wget(undefined, `http://${nodeIP}:${lbPort}/`);
      return b.startsWith('ERR') ? b : undefined;
    }, { timeoutMs: 20_000, detail });
    assert.match(refused, /ERR/);
  });

  await kubectlOk(server, v, ['delete', 'deployment', 'web', '--wait=false']);
  await kubectlOk(server, v, ['delete', 'pod', 'client', '--wait=false']);
});

test('the ingress follows the nodes: cordoned and excluded nodes leave it, and come back', { skip, timeout: 90_000 }, async () => {
  // Two simulated nodes (Ready, InternalIPs 10.128.0.1 and 10.128.0.2); no agent is needed.
  const s = await startServer({ args: ['--virtual-nodes', '2'] });
  const detail = () => s.output().slice(-3000);
  const ingress = async () => ((await json<Service>(s, ['get', 'svc', 'web-lb'])).status?.loadBalancer?.ingress ?? []).map((i) => i.ip).join(',');
  try {
    await until('two Ready nodes', async () => (await json<{ items: Node[] }>(s, ['get', 'nodes'])).items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 2, { timeoutMs: 30_000 });
    const nodeWith = (ip: string, nodes: Node[]) => nodes.find((n) => n.status?.addresses?.some((x) => x.address === ip))!.metadata.name!;
    const all = (await json<{ items: Node[] }>(s, ['get', 'nodes'])).items;
    const names = [nodeWith('10.128.0.1', all), nodeWith('10.128.0.2', all)];
    await kubectlOk(s, v, ['apply', '-f', '-'], { input: JSON.stringify(lbService('web-lb')) });
    await until('both node addresses', async () => (await ingress()) === '10.128.0.1,10.128.0.2', { timeoutMs: 30_000, detail });
    assert.equal(await externalIP(s, 'web-lb'), '10.128.0.1,10.128.0.2');
    await kubectlOk(s, v, ['cordon', names[0]!]);
    await until('the cordoned node leaving the ingress', async () => (await ingress()) === '10.128.0.2', { timeoutMs: 15_000, detail });
    await until('an UpdatedLoadBalancer event', async () => (await reasons(s, 'web-lb')).includes('UpdatedLoadBalancer'), { timeoutMs: 15_000 });
    await kubectlOk(s, v, ['label', 'node', names[1]!, 'node.kubernetes.io/exclude-from-external-load-balancers=true']);
    await until('no node left: the Service pending again', async () => (await ingress()) === '' && (await externalIP(s, 'web-lb')) === '<pending>', { timeoutMs: 15_000, detail });
    await until('an UnAvailableLoadBalancer warning', async () => (await reasons(s, 'web-lb')).includes('UnAvailableLoadBalancer'), { timeoutMs: 15_000 });
    await kubectlOk(s, v, ['uncordon', names[0]!]);
    await kubectlOk(s, v, ['label', 'node', names[1]!, 'node.kubernetes.io/exclude-from-external-load-balancers-']);
    await until('both node addresses again', async () => (await ingress()) === '10.128.0.1,10.128.0.2', { timeoutMs: 15_000, detail });
  } finally {
    await s.stop();
  }
});

test('with --disable servicelb no ingress is set', { skip, timeout: 90_000 }, async () => {
  // A control plane with one simulated (Ready, InternalIP) node: ServiceLB would serve it.
  const s = await startServer({ args: ['--virtual-nodes', '1', '--disable', 'servicelb'] });
  try {
    await until('the controller manager started without servicelb', async () => /controller-manager: started (.*)/.exec(s.output())?.[1], { timeoutMs: 30_000, detail: () => s.output() });
    const started = /controller-manager: started (.*)/.exec(s.output())![1]!.split(', ');
    assert.ok(started.includes('endpointslice') && !started.includes('servicelb'), started.join(', '));
    await until('a Ready node', async () => (await json<{ items: Node[] }>(s, ['get', 'nodes'])).items.some((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')), { timeoutMs: 30_000 });
    await kubectlOk(s, v, ['apply', '-f', '-'], { input: JSON.stringify(lbService('web-lb')) });
    // The endpointslice controller reacting to the Service shows the controllers have seen it.
    await until('the EndpointSlice of web-lb', async () => (await json<{ items: EndpointSlice[] }>(s, ['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web-lb'])).items.length > 0, { timeoutMs: 30_000 });
    const svc = await json<Service>(s, ['get', 'svc', 'web-lb']);
    assert.deepEqual(svc.status?.loadBalancer?.ingress ?? [], []);
    assert.equal(await externalIP(s, 'web-lb'), '<pending>');
    assert.ok(!(await reasons(s, 'web-lb')).includes('EnsuringLoadBalancer'));
  } finally {
    await s.stop();
  }
});

test('--disable refuses an unknown component with a clear message', async () => {
  const out = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(bosunBin, ['server', '--disable', 'traefik', '--data-dir', '/nonexistent-bosun-e2e'], { timeout: 20_000 }, (err, _stdout, stderr) => resolve({ code: (err as { code?: number } | null)?.code ?? 0, stderr }));
  });
  assert.notEqual(out.code, 0);
  assert.match(out.stderr, /unknown component traefik \(known: servicelb, local-storage, metrics-server\)/);
});

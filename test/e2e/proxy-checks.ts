/**
 * The service proxy in the node agent, end to end, in either mode (proxy.test.ts: iptables,
 * proxy-nftables.test.ts: nftables): busybox httpd pods behind Services, reached from a client
 * pod through the cluster IP (load spread over the endpoints), a NodePort on the node's address
 * (from a pod and from the host), ClientIP affinity, hairpin (a pod through its own Service), a
 * deleted backend leaving the rotation, and a Service without endpoints refused at once; the
 * rules are those of the mode asked for, and none are left afterwards.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, Service } from '../../src/api/index.ts';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, type ServerHandle } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';
import { expectNoProxyChainsAfterwards } from './network.ts';
import { readTable } from '../../src/network/iptables.ts';
import { run } from '../../src/network/exec.ts';
import type { ProxyMode } from '../../src/proxy/index.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
let server!: ServerHandle;
const v = kubectlVersions.at(-1)!;
const nodeIP = '10.42.0.1';
const nodePort = 30480;

const httpd = (label: string) => ({
  name: 'httpd',
  image: busyboxImage,
  command: ['sh', '-c', 'mkdir -p /www && echo "$HOSTNAME" > /www/index.html && exec httpd -f -p 8080 -h /www'],
  ports: [{ containerPort: 8080 }],
  readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
  env: [{ name: 'ROLE', value: label }],
});
const service = (name: string, app: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { selector: { app }, ports: [{ port: 80, targetPort: 8080 }], ...extra },
});

async function json<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk(server, v, [...args, '-o', 'json'])) as T;
}
const clusterIP = async (name: string) => (await json<Service>(['get', 'service', name])).spec!.clusterIP!;

/** `n` requests from `pod` to `url`, one exec; answers the bodies (or `ERR <rc>: <stderr>` lines). */
async function requests(pod: string, url: string, n: number): Promise<string[]> {
  const script = `for i in $(seq ${n}); do out=$(timeout 3 wget -q -O - ${url} 2>&1); rc=$?; if [ $rc = 0 ]; then echo "$out"; else echo "ERR $rc: $out"; fi; done`;
  const r = await kubectl(server, v, ['exec', pod, '--', 'sh', '-c', script], { timeoutMs: 30_000 + n * 3_500 });
  return r.stdout.trim().split('\n').filter(Boolean);
}

async function backends(): Promise<string[]> {
  const list = await json<{ items: Pod[] }>(['get', 'pods', '-l', 'app=web']);
  return list.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name!);
}

/** Registers the server (with `--proxy-mode mode`) and the test of that mode. */
export function proxyTests(mode: ProxyMode): void {
  if (!skip) useServer({ agent: true, args: ['--proxy-mode', mode] }, (s) => (server = s));
  // Runs after useServer's own clean-up: no chain or table is left.
  if (!skip) expectNoProxyChainsAfterwards();
  test(`Services route through the ${mode} proxy: cluster IP, NodePort, affinity, hairpin, endpoint removal, rejection`, { skip, timeout: 150_000 }, (t) => checks(t, mode));
}

async function checks(t: TestContext, mode: ProxyMode): Promise<void> {
  const items = [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { terminationGracePeriodSeconds: 1, containers: [httpd('web')] } } },
    },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', labels: { app: 'client' } }, spec: { terminationGracePeriodSeconds: 1, containers: [httpd('client')] } },
    service('web', 'web'),
    service('web-np', 'web', { type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort }] }),
    service('web-sticky', 'web', { sessionAffinity: 'ClientIP' }),
    service('client-self', 'client'),
    service('nobody', 'no-such-app'),
  ];
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
  await kubectlOk(server, v, ['rollout', 'status', 'deployment/web', '--timeout=60s']);
  await kubectlOk(server, v, ['wait', '--for=condition=Ready', 'pod/client', '--timeout=60s']);
  const pods = await backends();
  assert.equal(pods.length, 3);
  const detail = () => server.output().slice(-3000);

  await t.test(`the rules are the ${mode} mode's`, async () => {
    const hasNat = (await readTable('nat')).has('KUBE-SERVICES');
    const table = await run('nft', ['list', 'table', 'ip', 'kube-proxy']);
    if (mode === 'iptables') {
      assert.ok(hasNat, 'KUBE-SERVICES in nat');
      assert.notEqual(table.code, 0, 'no ip kube-proxy table');
    } else {
      assert.ok(!hasNat, 'no KUBE-SERVICES in nat');
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /map service-ips \{/);
      // The web Service's chain follows its endpoints' readiness (a sync at most a second later).
      await until('the web Service chain in ip kube-proxy', async () => (/chain service-[A-Z2-7]{8}-default\/web\/tcp\/ \{/.test((await run('nft', ['list', 'table', 'ip', 'kube-proxy'])).stdout) ? true : undefined), { timeoutMs: 15_000 });
    }
  });

  await t.test('the cluster IP reaches the endpoints, spread over more than one', async () => {
    const ip = await clusterIP('web');
    const seen = await until('answers from several web pods through the cluster IP', async () => {
      const out = await requests('client', `http://${ip}/`, 12);
      return out.length === 12 && out.every((l) => pods.includes(l)) && new Set(out).size > 1 ? out : undefined;
    }, { timeoutMs: 30_000, detail });
    assert.ok(new Set(seen).size >= 2, `distinct backends: ${seen}`);
  });

  await t.test('the NodePort answers on the node address, from a pod and from the host', async () => {
    const fromPod = await until('an answer through the NodePort from a pod', async () => {
      const out = await requests('client', `http://${nodeIP}:${nodePort}/`, 3);
      return out.length === 3 && out.every((l) => pods.includes(l)) ? out : undefined;
    }, { timeoutMs: 15_000, detail });
    assert.equal(fromPod.length, 3);
    const body = await until('an answer through the NodePort from the host', async () => {
      const r = await fetch(`http://${nodeIP}:${nodePort}/`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
      return r?.ok ? (await r.text()).trim() : undefined;
    }, { timeoutMs: 15_000 });
    assert.ok(pods.includes(body), body);
  });

  await t.test('sessionAffinity ClientIP keeps a client on one endpoint', async () => {
    const ip = await clusterIP('web-sticky');
    const out = await until('answers through the sticky service', async () => {
      const o = await requests('client', `http://${ip}/`, 10);
      return o.length === 10 && o.every((l) => pods.includes(l)) ? o : undefined;
    }, { timeoutMs: 15_000, detail });
    assert.equal(new Set(out).size, 1, `one backend: ${out}`);
  });

  await t.test('a pod reaches itself through its own Service (hairpin)', async () => {
    const ip = await clusterIP('client-self');
    const out = await until('the client answering itself', async () => {
      const o = await requests('client', `http://${ip}/`, 3);
      return o.length === 3 && o.every((l) => l === 'client') ? o : undefined;
    }, { timeoutMs: 15_000, detail });
    assert.deepEqual(out, ['client', 'client', 'client']);
  });

  await t.test('a Service without endpoints is refused at once', async () => {
    const ip = await clusterIP('nobody');
    const out = await until('a refusal', async () => {
      const started = Date.now();
      const o = await requests('client', `http://${ip}/`, 1);
      return o[0]?.startsWith('ERR') ? { line: o[0], ms: Date.now() - started } : undefined;
    }, { timeoutMs: 15_000, detail });
    assert.match(out.line, /Connection refused/, `${out.line} (after ${out.ms} ms)`);
    assert.doesNotMatch(out.line, /^ERR 143/, 'not a timeout');
  });

  await t.test('a deleted backend pod stops receiving traffic', async () => {
    const ip = await clusterIP('web');
    const victim = pods[0]!;
    await kubectlOk(server, v, ['delete', 'pod', victim, '--wait=false']);
    const out = await until(`traffic without ${victim}`, async () => {
      const o = await requests('client', `http://${ip}/`, 12);
      return o.length === 12 && o.every((l) => !l.startsWith('ERR') && l !== victim) ? o : undefined;
    }, { timeoutMs: 30_000, detail });
    assert.ok(!out.includes(victim));
  });

  await kubectlOk(server, v, ['delete', 'deployment', 'web', '--wait=false']);
  await kubectlOk(server, v, ['delete', 'pod', 'client', '--wait=false']);
}

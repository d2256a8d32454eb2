/**
 * The `kubernetes` Service's Endpoints and EndpointSlice point at the API server's advertise
 * address (by default the node agent's node IP, 10.42.0.1, where the server also listens), kept
 * by the server's lease reconciler: shown by kubectl, repaired after an edit or a deletion, and
 * reachable from a pod (TCP) and over HTTPS with the cluster CA (the certificate covers it). Without an agent and with a loopback bind there is no advertise address.
 * Needs the node agent: run under the machine-wide lock,
 *   flock /tmp/bosun-agent.lock node --test test/e2e/kubernetes-service.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoints, EndpointSlice, Lease, Pod } from '../../src/api/index.ts';
import { getPod, isPodReady, kubectl, kubectlOk, kubectlVersions, startServer, until, waitForServiceAccount, useServer, type ServerHandle } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
const nodeIP = '10.42.0.1';
let server!: ServerHandle;
if (!skip) useServer({ agent: true }, (s) => (server = s));
const newest = kubectlVersions.at(-1)!;

async function getJson<T>(args: string[]): Promise<T | undefined> {
  const r = await kubectl(server, newest, [...args, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
}

function endpointsCorrect(ep: Endpoints | undefined): boolean {
  const ss = ep?.subsets;
  return (
    ss?.length === 1 &&
    JSON.stringify(ss[0]!.addresses?.map((a) => a.ip)) === JSON.stringify([nodeIP]) &&
    JSON.stringify(ss[0]!.ports) === JSON.stringify([{ name: 'https', port: server.port, protocol: 'TCP' }])
  );
}

function sliceCorrect(s: EndpointSlice | undefined): boolean {
  return (
    s?.addressType === 'IPv4' &&
    JSON.stringify(s.endpoints.map((e) => [e.addresses, e.conditions?.ready])) === JSON.stringify([[[nodeIP], true]]) &&
    JSON.stringify(s.ports) === JSON.stringify([{ name: 'https', port: server.port, protocol: 'TCP' }])
  );
}

const detail = () => server.output().slice(-3000);

test('kubectl shows the kubernetes Endpoints and EndpointSlice at the advertise address and port, from a lease per API server', { skip }, async () => {
  const ep = await until('kubernetes endpoints', async () => {
    const e = await getJson<Endpoints>(['get', 'endpoints', 'kubernetes']);
    return endpointsCorrect(e) ? e : undefined;
  }, { timeoutMs: 30_000, detail });
  assert.deepEqual(ep.metadata.labels, { 'endpointslice.kubernetes.io/skip-mirror': 'true' });
  const table = await kubectlOk(server, newest, ['get', 'endpoints', 'kubernetes']);
  assert.match(table, new RegExp(`^kubernetes\\s+${nodeIP.replace(/\./g, '\\.')}:${server.port}\\s`, 'm'));
  const slice = await until('kubernetes endpointslice', async () => {
    const s = await getJson<EndpointSlice>(['get', 'endpointslice', 'kubernetes']);
    return sliceCorrect(s) ? s : undefined;
  }, { detail });
  assert.deepEqual(slice.metadata.labels, { 'kubernetes.io/service-name': 'kubernetes' });
  const slices = await kubectlOk(server, newest, ['get', 'endpointslices']);
  assert.match(slices, new RegExp(`^kubernetes\\s+IPv4\\s+${server.port}\\s+${nodeIP.replace(/\./g, '\\.')}\\s`, 'm'));
  const svc = await getJson<{ spec: { selector?: unknown; ports: { name: string; port: number; targetPort: number }[] } }>(['get', 'service', 'kubernetes']);
  assert.equal(svc?.spec.selector, undefined);
  assert.deepEqual(svc?.spec.ports.map((p) => [p.name, p.port]), [['https', 443]]);
  const leases = await getJson<{ items: Lease[] }>(['get', 'leases', '-n', 'kube-system', '-l', 'apiserver.kubernetes.io/identity=kube-apiserver']);
  assert.equal(leases?.items.length, 1);
  const lease = leases!.items[0]!;
  assert.match(lease.metadata.name!, /^apiserver-[a-z2-7]{26}$/);
  assert.equal(lease.spec?.holderIdentity, lease.metadata.name);
  assert.equal(lease.metadata.annotations?.['bosun.dev/advertise-address'], nodeIP);
  assert.ok(lease.spec?.leaseDurationSeconds && lease.spec.leaseDurationSeconds > 0);
});

test('an edited Endpoints and a deleted EndpointSlice are repaired by the reconciler', { skip }, async () => {
  await until('kubernetes endpoints', async () => endpointsCorrect(await getJson<Endpoints>(['get', 'endpoints', 'kubernetes'])), { timeoutMs: 30_000, detail });
  const wrong = { subsets: [{ addresses: [{ ip: '10.42.0.250' }], ports: [{ name: 'https', port: 1, protocol: 'TCP' }] }] };
  await kubectlOk(server, newest, ['patch', 'endpoints', 'kubernetes', '--type=merge', '-p', JSON.stringify(wrong)]);
  const edited = await getJson<Endpoints>(['get', 'endpoints', 'kubernetes']);
  assert.equal(edited?.subsets?.[0]?.addresses?.[0]?.ip, '10.42.0.250');
  await kubectlOk(server, newest, ['delete', 'endpointslice', 'kubernetes']);
  await until('repaired endpoints', async () => endpointsCorrect(await getJson<Endpoints>(['get', 'endpoints', 'kubernetes'])), { timeoutMs: 30_000, detail });
  await until('recreated endpointslice', async () => sliceCorrect(await getJson<EndpointSlice>(['get', 'endpointslice', 'kubernetes'])), { timeoutMs: 30_000, detail });
  assert.match(server.output(), /resetting endpoints for the kubernetes service/);
});

test('a pod reaches the API server at the advertise address', { skip }, async () => {
  await waitForServiceAccount(server, 'default');
  await kubectlOk(server, newest, ['run', 'reach', `--image=${busyboxImage}`, '--', 'sleep', '3600']);
  await until('pod reach Ready', async () => isPodReady(await getPod(server, 'reach')), { timeoutMs: 60_000, detail });
  const p = (await getPod(server, 'reach')) as Pod;
  assert.match(p.status?.podIP ?? '', /^10\.42\.0\.\d+$/);
  // A TCP connection from the pod (busybox's own TLS client cannot negotiate with Node's TLS,
  // so HTTPS is checked from the host below); nc fails when nothing listens there.
  const r = await kubectl(server, newest, ['exec', 'reach', '--', 'sh', '-c', `echo | timeout 10 nc ${nodeIP} ${server.port} && echo connected`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /connected/);
  const closed = await kubectl(server, newest, ['exec', 'reach', '--', 'sh', '-c', `echo | timeout 10 nc ${nodeIP} 1 && echo connected`]);
  assert.notEqual(closed.code, 0, 'a port nothing listens on is refused');
  // The serving certificate covers the advertise address: verified with the cluster CA from the host.
  const ca = /certificate-authority-data: (\S+)/.exec(await import('node:fs').then((fs) => fs.readFileSync(server.kubeconfig, 'utf8')))![1]!;
  const https = await import('node:https');
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: nodeIP, port: server.port, path: '/healthz', ca: Buffer.from(ca, 'base64').toString(), servername: undefined }, (res) => {
        let s = '';
        res.on('data', (d: Buffer) => (s += d.toString()));
        res.on('end', () => resolve(s));
      })
      .on('error', reject);
  });
  assert.equal(body, 'ok');
  await kubectlOk(server, newest, ['delete', 'pod', 'reach', '--grace-period=1', '--wait=true', '--timeout=60s']);
});

test('without a node agent and with a loopback bind there is no advertise address and no endpoints', async () => {
  const s = await startServer({});
  try {
    await until('the no-advertise line', async () => /no advertise address/.test(s.output()), { detail: () => s.output() });
    const r = await kubectl(s, newest, ['get', 'endpoints', 'kubernetes']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NotFound|not found/);
  } finally {
    await s.stop();
  }
});

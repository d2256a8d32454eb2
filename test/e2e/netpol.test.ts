/**
 * NetworkPolicy enforced by the node agent: busybox httpd pods in two namespaces reach each
 * other by pod IP until policies say otherwise. A default-deny ingress policy blocks (while the
 * node itself still reaches its pods); `web-netpol` lets exactly frontend → web:80 in and
 * web → db:5432 (plus DNS) out; pod and namespace label changes take effect within seconds;
 * DNS to the node-hosted cluster DNS passes only where an egress rule allows it; deleting the
 * policies restores traffic. Run under the agent lock:
 *   flock /tmp/bosun-agent.lock node --test test/e2e/netpol.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Pod } from '../../src/api/index.ts';
import { getPod, isPodReady, kubectl, kubectlOk, kubectlVersions, until, waitForServiceAccount, useServer, type ServerHandle } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
let server!: ServerHandle;
if (!skip) useServer({ agent: true }, (s) => (server = s));

const v = kubectlVersions.at(-1)!;
const ip: Record<string, string> = {};

interface PodDef {
  ns: string;
  name: string;
  app: string;
  port: number;
}
const defs: PodDef[] = [
  { ns: 'np-a', name: 'web', app: 'web', port: 80 },
  { ns: 'np-a', name: 'db', app: 'db', port: 5432 },
  { ns: 'np-a', name: 'frontend', app: 'frontend', port: 80 },
  { ns: 'np-a', name: 'other', app: 'other', port: 80 },
  { ns: 'np-b', name: 'frontend-b', app: 'frontend', port: 80 },
];
const def = (name: string) => defs.find((d) => d.name === name)!;

async function apply(manifest: unknown): Promise<string> {
  // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'default');
  return kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(manifest) });
}

function serverPod(d: PodDef): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: d.name, namespace: d.ns, labels: { app: d.app } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'httpd',
          image: busyboxImage,
          command: ['sh', '-c', `mkdir -p /www && echo "hello from $HOSTNAME" > /www/index.html && exec httpd -f -p ${d.port} -h /www`],
          ports: [{ name: 'http', containerPort: d.port }],
          readinessProbe: { tcpSocket: { port: d.port }, periodSeconds: 1 },
        },
      ],
    },
  } as Pod;
}

/** One attempt: true = the page came back, false = the connection was refused by policy. */
async function reaches(from: string, to: string): Promise<boolean> {
  const f = def(from);
  const t = def(to);
  const r = await kubectl(server, v, ['exec', '-n', f.ns, from, '--', 'timeout', '3', 'wget', '-q', '-O', '-', `http://${ip[to]}:${t.port}/`]);
  if (r.code === 0) {
    assert.equal(r.stdout.trim(), `hello from ${to}`);
    return true;
  }
  // Only a failed wget counts as blocked; a failed exec is an error of the test.
  assert.match(r.stderr, /command terminated with exit code/, `kubectl exec ${from} failed: ${r.stderr}`);
  return false;
}

/** Waits (generously) until `from` → `to` is as expected; policy changes are enforced within about a second. */
async function expectReach(from: string, to: string, want: boolean): Promise<void> {
  await until(`${from} ${want ? 'reaches' : 'is blocked from'} ${to}`, async () => (await reaches(from, to)) === want, {
    timeoutMs: 15_000,
    detail: () => iptablesRules(),
  });
}

function iptablesRules(): string {
  try {
    return execFileSync('iptables', ['-S'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('NWPLCY'))
      .join('\n');
  } catch (err) {
    return String(err);
  }
}

/** Whether `from` resolves a cluster name through the cluster DNS (served by the node agent). */
async function resolves(from: string): Promise<boolean> {
  const f = def(from);
  const r = await kubectl(server, v, ['exec', '-n', f.ns, from, '--', 'timeout', '3', 'nslookup', 'kubernetes.default.svc.cluster.local']);
  if (r.code === 0) return true;
  assert.match(r.stderr, /command terminated with exit code/, `kubectl exec ${from} failed: ${r.stderr}`);
  return false;
}

let dnsWorks = false;

/** The node reaching its pod directly (what probes do), from this test process on the host. */
async function hostReaches(to: string): Promise<boolean> {
  const res = await fetch(`http://${ip[to]}:${def(to).port}/`, { signal: AbortSignal.timeout(5000) });
  return (await res.text()).trim() === `hello from ${to}`;
}

test('before any policy every pod reaches every other by pod IP, across namespaces', { skip }, async () => {
  await kubectlOk(server, v, ['create', 'namespace', 'np-a']);
  await kubectlOk(server, v, ['create', 'namespace', 'np-b']);
  await waitForServiceAccount(server, 'np-a');
  await waitForServiceAccount(server, 'np-b');
  await apply({ apiVersion: 'v1', kind: 'List', items: defs.map(serverPod) });
  for (const d of defs) {
    const p = await until(`pod ${d.ns}/${d.name} Ready`, async () => {
      const p = await getPod(server, d.name, d.ns);
      return isPodReady(p) && p?.status?.podIP ? p : undefined;
    }, { timeoutMs: 60_000, detail: () => server.output().slice(-2000) });
    ip[d.name] = p.status!.podIP!;
  }
  for (const [from, to] of [['frontend', 'web'], ['other', 'web'], ['frontend-b', 'web'], ['web', 'db'], ['web', 'other'], ['web', 'frontend-b']] as const) {
    assert.equal(await reaches(from, to), true, `${from} → ${to}`);
  }
  assert.doesNotMatch(iptablesRules(), /-A BOSUN-NWPLCY -[sd] /, 'no pod is isolated yet');
  dnsWorks = await resolves('web').catch(() => false);
});

test('deny-all-ingress blocks every connection into the namespace but not from the node or out of it', { skip }, async () => {
  await apply({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-all-ingress', namespace: 'np-a' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
  await expectReach('frontend', 'web', false);
  await expectReach('frontend-b', 'web', false);
  await expectReach('web', 'db', false);
  assert.equal(await reaches('frontend', 'frontend-b'), true, 'egress is not isolated and np-b has no policy');
  assert.equal(await hostReaches('web'), true, 'the node still reaches its pods (probes)');
  const web = await getPod(server, 'web', 'np-a');
  assert.ok(isPodReady(web), 'the readiness probe keeps passing');
  await kubectlOk(server, v, ['delete', 'networkpolicy', '-n', 'np-a', 'deny-all-ingress']);
  await expectReach('frontend', 'web', true);
});

test('web-netpol lets exactly frontend → web:80 in and web → db:5432 out', { skip }, async () => {
  await apply({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'web-netpol', namespace: 'np-a' },
    spec: {
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 80 }] }],
      egress: [
        { to: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [{ protocol: 'TCP', port: 5432 }] },
        { to: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
      ],
    },
  });
  await expectReach('other', 'web', false);
  await expectReach('web', 'other', false);
  await expectReach('frontend', 'web', true);
  await expectReach('frontend-b', 'web', false); // a podSelector alone means the policy's namespace
  await expectReach('web', 'db', true);
  await expectReach('web', 'frontend-b', false);
  await expectReach('other', 'db', true); // db is not selected
  const rules = iptablesRules();
  assert.match(rules, new RegExp(`-A BOSUN-NWPLCY -d ${ip['web']!.replace(/\./g, '\\.')}/32 .*-j BOSUN-NWPLCY-I-`));
  assert.match(rules, new RegExp(`-A BOSUN-NWPLCY -s ${ip['web']!.replace(/\./g, '\\.')}/32 .*-j BOSUN-NWPLCY-E-`));
  assert.match(rules, /-A FORWARD .*-j BOSUN-NWPLCY$/m);
});

test('DNS to the node-hosted cluster DNS is allowed only when an egress rule allows it', { skip }, async (t) => {
  if (!dnsWorks) {
    t.skip('cluster DNS does not answer pods in this build (checked before any policy)');
    return;
  }
  assert.equal(await resolves('web'), true, 'web-netpol allows DNS');
  await apply({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'frontend-egress', namespace: 'np-a' },
    spec: { podSelector: { matchLabels: { app: 'frontend' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 80 }] }] },
  });
  await until('frontend cannot resolve', async () => !(await resolves('frontend')), { timeoutMs: 15_000, detail: () => iptablesRules() });
  assert.equal(await reaches('frontend', 'web'), true, 'what the rule allows still passes');
  await kubectlOk(server, v, ['delete', 'networkpolicy', '-n', 'np-a', 'frontend-egress']);
  await until('frontend resolves again', () => resolves('frontend'), { timeoutMs: 15_000 });
});

test('pod and namespace label changes take effect within seconds', { skip }, async () => {
  await kubectlOk(server, v, ['label', 'pod', '-n', 'np-a', 'other', 'app=frontend', '--overwrite']);
  await expectReach('other', 'web', true);
  await kubectlOk(server, v, ['label', 'pod', '-n', 'np-a', 'frontend', 'app=gone', '--overwrite']);
  await expectReach('frontend', 'web', false);
  await apply({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'allow-team-b', namespace: 'np-a' },
    spec: {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'b' } }, podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ port: 'http' }] }],
    },
  });
  assert.equal(await reaches('frontend-b', 'web'), false, 'np-b is not labelled team=b yet');
  await kubectlOk(server, v, ['label', 'namespace', 'np-b', 'team=b']);
  await expectReach('frontend-b', 'web', true);
});

test('deleting the policies restores all traffic', { skip }, async () => {
  await kubectlOk(server, v, ['delete', 'networkpolicy', '-n', 'np-a', '--all']);
  await expectReach('frontend', 'web', true);
  await expectReach('web', 'other', true);
  await expectReach('web', 'frontend-b', true);
  assert.doesNotMatch(iptablesRules(), /-A BOSUN-NWPLCY(-DNS)? -[sd] /, 'no pod is isolated any more');
});

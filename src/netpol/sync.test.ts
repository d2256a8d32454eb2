/**
 * The enforcement loop against a real `bosun server` (no agent, no host changes): informers
 * feed a coalesced sync whose iptables writes go to an in-memory table that interprets the
 * restore scripts. Checks that policy, pod and namespace changes reach the table, that a burst
 * coalesces, that unchanged rules are not rewritten, that a failed write is retried, and that
 * the loop ends with its signal.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitForServiceAccount, type ServerHandle } from '../../test/e2e/harness.ts';
import { clientset, Http2Transport, loadKubeconfig, RestClient, type Clientset } from '../client/index.ts';
import { tokenize, type TableRules } from '../network/iptables.ts';
import { DNS_CHAIN, MAIN_CHAIN, podChainName } from './compile.ts';
import { startNetworkPolicy } from './index.ts';
import type { IptablesIO } from './rules.ts';

/** An in-memory filter table that applies iptables-restore scripts the way --noflush does. */
class FakeTable implements IptablesIO {
  chains: TableRules = new Map([['FORWARD', []], ['INPUT', []], ['OUTPUT', []]]);
  reads = 0;
  writes = 0;
  failNext = 0;
  async readTable(): Promise<TableRules> {
    this.reads++;
    return new Map([...this.chains].map(([k, v]) => [k, v.map((r) => [...r])]));
  }
  async restore(script: string): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('iptables-restore: simulated failure');
    }
    this.writes++;
    const next: TableRules = new Map([...this.chains].map(([k, v]) => [k, [...v]]));
    for (const line of script.split('\n')) {
      const t = tokenize(line);
      if (line.startsWith(':')) next.set(line.slice(1).split(' ')[0]!, []);
      else if (t[0] === '-A') next.get(t[1]!)!.push(t);
      else if (t[0] === '-I') next.get(t[1]!)!.unshift(['-A', t[1]!, ...t.slice(3)]);
      else if (t[0] === '-X') next.delete(t[1]!);
      else if (t[0] === '-D') next.set(t[1]!, next.get(t[1]!)!.filter((r) => r.join(' ') !== ['-A', ...t.slice(1)].join(' ')));
    }
    this.chains = next;
  }
  rules(chain: string): string[] | undefined {
    return this.chains.get(chain)?.map((r) => r.slice(2).join(' '));
  }
}

let server: ServerHandle;
let client: RestClient;
let cs: Clientset;
const table = new FakeTable();
const logs: string[] = [];
const stop = new AbortController();
let running: Promise<void>;

async function until(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; table: ${JSON.stringify([...table.chains])}; log: ${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function makePod(name: string, ip: string, labels: Record<string, string>): Promise<void> {
  await cs.pods.create({ metadata: { name, namespace: 'np1', labels }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 80 }] }] } }, { namespace: 'np1' });
  await cs.pods.patchStatus(name, { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }, { type: 'merge', namespace: 'np1' });
}

const webIngress = podChainName('Ingress', 'np1', 'web', '10.42.0.10');

before(async () => {
  server = await startServer();
  client = new RestClient(new Http2Transport({ ...(await loadKubeconfig(server.kubeconfig)), userAgent: 'bosun-netpol-test/v1.33.0' }));
  cs = clientset(client);
  await cs.nodes.create({ metadata: { name: 'n1' } });
  await cs.namespaces.create({ metadata: { name: 'np1' } });
  await cs.namespaces.create({ metadata: { name: 'np2' } });
  // Pods wait for their namespace's default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'np1');
  await waitForServiceAccount(server, 'np2');
  await makePod('web', '10.42.0.10', { app: 'web' });
  await makePod('client', '10.42.0.11', { app: 'client' });
  running = startNetworkPolicy({ client, nodeName: 'n1', io: table, debounceMs: 200, log: (m) => logs.push(m) }, stop.signal);
});

after(async () => {
  stop.abort();
  await running;
  await client?.transport.close();
  await server?.stop();
});

test('the first sync hooks FORWARD and writes the main chain with no pod isolated', async () => {
  await until('main chain', () => table.chains.has(MAIN_CHAIN));
  assert.deepEqual(table.rules('FORWARD'), ['-m comment --comment bosun network policy -j BOSUN-NWPLCY']);
  assert.equal(table.rules('INPUT')!.length, 2, 'DNS (UDP and TCP) to the node');
  assert.equal(table.rules(MAIN_CHAIN)!.length, 2);
});

test('a new policy isolates the selected pod; a pod label change then lets a peer in', async () => {
  await cs.networkPolicies.create(
    { metadata: { name: 'web', namespace: 'np1' }, spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ port: 'http' }] }] } },
    { namespace: 'np1' },
  );
  await until('web ingress chain', () => table.chains.has(webIngress));
  assert.equal(table.rules(webIngress)!.length, 2, 'only the self rule and the reject');
  await cs.pods.patch('client', { metadata: { labels: { app: 'frontend' } } }, { type: 'merge', namespace: 'np1' });
  await until('client allowed', () => table.rules(webIngress)!.some((r) => r.startsWith('-s 10.42.0.11/32 -p tcp -m tcp --dport 80 ')));
});

test('a namespace label change reaches the rules', async () => {
  await cs.pods.create({ metadata: { name: 'remote', namespace: 'np2', labels: { app: 'x' } }, spec: { nodeName: 'n2', containers: [{ name: 'c', image: 'busybox' }] } }, { namespace: 'np2' });
  await cs.pods.patchStatus('remote', { status: { phase: 'Running', podIP: '10.42.1.7' } }, { type: 'merge', namespace: 'np2' });
  await cs.networkPolicies.create({ metadata: { name: 'from-np2', namespace: 'np1' }, spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { trusted: 'yes' } } }] }] } }, { namespace: 'np1' });
  await cs.namespaces.patch('np2', { metadata: { labels: { trusted: 'yes' } } }, { type: 'merge' });
  await until('np2 pod allowed', () => table.rules(webIngress)!.some((r) => r.startsWith('-s 10.42.1.7/32 ')));
});

test('a burst of changes coalesces, and changes that leave the rules alone write nothing', async () => {
  const reads = table.reads;
  const writes = table.writes;
  for (let i = 0; i < 10; i++) await cs.namespaces.patch('np2', { metadata: { labels: { trusted: 'yes', round: String(i) } } }, { type: 'merge' });
  // A last change that does alter the rules marks the end of the burst once it is applied.
  await cs.networkPolicies.create({ metadata: { name: 'marker', namespace: 'np1' }, spec: { podSelector: { matchLabels: { app: 'frontend' } } } }, { namespace: 'np1' });
  const clientIngress = podChainName('Ingress', 'np1', 'client', '10.42.0.11');
  await until('the marker policy applied', () => table.chains.has(clientIngress));
  assert.ok(table.reads - reads < 11, `${table.reads - reads} syncs for 11 changes`);
  assert.equal(table.writes, writes + 1, 'only the change that altered the rules was written');
  await cs.networkPolicies.delete('marker', { namespace: 'np1' });
  await until('the marker policy removed', () => !table.chains.has(clientIngress));
});

test('a failed write is logged and retried until the rules are in place', async () => {
  table.failNext = 1;
  await cs.networkPolicies.delete('from-np2', { namespace: 'np1' });
  await until('np2 pod no longer allowed', () => !table.rules(webIngress)!.some((r) => r.startsWith('-s 10.42.1.7/32 ')));
  assert.ok(logs.some((l) => /sync failed \(attempt 1\): iptables-restore: simulated failure/.test(l)), logs.join('\n'));
});

test('deleting the policies removes the pod chains; the loop ends with its signal', async () => {
  await cs.networkPolicies.delete('web', { namespace: 'np1' });
  await until('web chain gone', () => !table.chains.has(webIngress));
  assert.deepEqual([...table.chains.keys()].filter((c) => c.startsWith('BOSUN-NWPLCY')).sort(), [MAIN_CHAIN, DNS_CHAIN].sort());
  stop.abort();
  await running;
});

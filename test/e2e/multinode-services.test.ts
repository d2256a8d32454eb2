/**
 * Several nodes on one machine, and Service networking across them (issue 13's checks): `bosun
 * server --disable-agent` bound to the hosts' bridge address and two namespace hosts
 * (test/e2e/hosts.ts) each running `bosun agent --server --token --node-ip` (joined through the
 * TLS bootstrap). One cluster serves every case. The nodes: each is Ready with its own pod range
 * (node IPAM) and its InternalIP, its certificates came through approved requests, each agent
 * routes the other's range via its InternalIP (host-gw) behind its guard chain, every pod gets an
 * address of its node's range, a pod on either node fetches a page from a pod on the other, and
 * deleting a Node takes its route away on the other host (last). Services: pod to pod across nodes; a Service by cluster IP, by DNS name and by short name
 * from pods on both nodes, spread over endpoints on both nodes; the NodePort on every node's IP
 * (from pods and from outside the nodes); ClientIP affinity; a removed endpoint leaving the
 * rotation; headless and ExternalName names from a pod; `kubernetes.default` reachable from pods;
 * the NetworkPolicies `deny-all-ingress` and `web-netpol` across nodes. Node 1's service proxy
 * runs in iptables mode, node 2's in nftables mode.
 *
 * Names outside the cluster go to a fake resolver this test runs on 10.44.0.1:53 (the agents'
 * --resolv-conf): no query leaves the machine.
 * Run: flock /tmp/bosun-agent.lock node --test test/e2e/multinode-services.test.ts
 * (The node checks were multinode.test.ts, with a cluster of its own; they share this one now,
 * which saves a server and two hosts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Node, Pod, Service } from '../../src/api/index.ts';
import { getPod, isPodReady, kubectl, kubectlOk, kubectlVersions, startServer, until, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { createHostsBridge, HOSTS_GATEWAY, removeHosts, startHost, stopHosts, type Host } from './hosts.ts';
import { agentSupported, busyboxImage } from './node.ts';
import { run, runOk } from '../../src/network/exec.ts';
import { ROUTE_PROTO } from '../../src/network/routes.ts';
import { startFakeResolver, type FakeResolver } from './network.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
const v = kubectlVersions.at(-1)!;
/** The node checks drive the oldest kubectl, the Service checks the newest. */
const oldest = kubectlVersions[0]!;
const nodePort = 30481;
const nodeOf = (pod: string) => `bosun-h${pod.match(/-(\d)$/)![1]}`;

/** Every pod: busybox httpd answering its name on port 80 (web pods on 8080 too), pinned to a node. */
const podDefs = [
  { name: 'web-1', app: 'web' },
  { name: 'web-2', app: 'web' },
  { name: 'web-3', app: 'web' }, // on node 2; removed in the endpoint-removal case
  { name: 'frontend-1', app: 'frontend' },
  { name: 'frontend-2', app: 'frontend' },
  { name: 'other-1', app: 'other' },
  { name: 'other-2', app: 'other' },
];
const webPods = ['web-1', 'web-2', 'web-3'];
const nodeFor = (name: string) => (name === 'web-3' ? 'bosun-h2' : nodeOf(name));

function pod(d: { name: string; app: string }): Pod {
  const extra = d.app === 'web' ? 'httpd -p 8080 -h /www && ' : '';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: d.name, labels: { app: d.app } },
    spec: {
      nodeName: nodeFor(d.name),
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'httpd',
          image: busyboxImage,
          command: ['sh', '-c', `mkdir -p /www && echo "$HOSTNAME" > /www/index.html && ${extra}exec httpd -f -p 80 -h /www`],
          ports: [{ name: 'http', containerPort: 80 }],
          readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1 },
        },
      ],
    },
  } as Pod;
}

const service = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 80 }], ...spec } });

describe('Service networking across two joined nodes', { skip, timeout: 300_000 }, () => {
  let server: ServerHandle | undefined;
  let hosts: Host[] = [];
  let upstream: FakeResolver | undefined;
  let tmp = '';
  const ip: Record<string, string> = {};

  const detail = () => hosts.map((h) => `--- ${h.name}\n${h.output().slice(-2500)}`).join('\n') + `\n--- server\n${server?.output().slice(-2500)}`;
  const json = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectlOk(server!, v, [...args, '-o', 'json'])) as T;
  const clusterIP = async (name: string) => (await json<Service>(['get', 'service', name])).spec!.clusterIP!;

  /** One exec in `from`: `sh -c script`; answers the result (a failed exec, not the command, throws). */
  async function sh(from: string, script: string, timeoutMs = 30_000): Promise<{ code: number; out: string }> {
    const r = await kubectl(server!, v, ['exec', from, '--', 'sh', '-c', script], { timeoutMs });
    if (r.code !== 0 && !/command terminated with exit code/.test(r.stderr)) throw new Error(`kubectl exec ${from} failed: ${r.stderr}`);
    return { code: r.code, out: `${r.stdout}${r.stderr}` };
  }

  /** `n` HTTP requests from pod `from` to `url`: the bodies, or `ERR <rc>: <message>` lines. */
  async function requests(from: string, url: string, n: number): Promise<string[]> {
    // Debian's busybox wget crashes with -T: `timeout` bounds each request instead.
    const script = `for i in $(seq ${n}); do out=$(timeout 3 wget -q -O - ${url} 2>&1); rc=$?; if [ $rc = 0 ]; then echo "$out"; else echo "ERR $rc: $out"; fi; done`;
    const r = await sh(from, script, 30_000 + n * 3_500);
    return r.out.trim().split('\n').filter(Boolean);
  }

  /** Waits until `n` requests from `from` to `url` all answer from web pods and `ok(answers)` holds. */
  async function answers(from: string, url: string, n: number, ok: (a: string[]) => boolean = () => true, timeoutMs = 30_000): Promise<string[]> {
    let last: string[] = [];
    return until(`${n} answers from web pods for ${from} → ${url}`, async () => {
      last = await requests(from, url, n);
      return last.length === n && last.every((l) => webPods.includes(l)) && ok(last) ? last : undefined;
    }, { timeoutMs, detail: () => `last answers: ${last.join(' | ')}\n${detail()}` });
  }

  const onBothNodes = (a: string[]) => new Set(a.map(nodeFor)).size === 2;

  before(async () => {
    await removeHosts();
    await createHostsBridge();
    upstream = await startFakeResolver(HOSTS_GATEWAY);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-mns-'));
    const resolvConf = path.join(tmp, 'resolv.conf');
    fs.writeFileSync(resolvConf, `nameserver ${HOSTS_GATEWAY}\n`);
    server = await startServer({ args: ['--bind-address', HOSTS_GATEWAY] });
    // The two nodes run the two proxy modes: every check crosses an iptables and an nftables node.
    hosts = await Promise.all([1, 2].map((i) => startHost(server!, i, { args: ['--resolv-conf', resolvConf, '--proxy-mode', i === 1 ? 'iptables' : 'nftables'] })));
    // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
    await waitForServiceAccount(server, 'default');
    const items = [
      ...podDefs.map(pod),
      service('web', {}),
      service('web-np', { type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 80, nodePort }] }),
      service('web-sticky', { sessionAffinity: 'ClientIP' }),
      service('web-headless', { clusterIP: 'None' }),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'a.example.test' } },
    ];
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
    for (const d of podDefs) {
      const p = await until(`pod ${d.name} Ready`, async () => {
        const p = await getPod(server!, d.name);
        return isPodReady(p) && p?.status?.podIP ? p : undefined;
      }, { timeoutMs: 60_000, detail });
      assert.equal(p.spec?.nodeName, nodeFor(d.name));
      ip[d.name] = p.status!.podIP!;
    }
  });

  after(async () => {
    await stopHosts(hosts);
    await server?.stop();
    await removeHosts();
    upstream?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("node 1's proxy runs in iptables mode, node 2's in nftables mode", async () => {
    const inHost = (i: number, cmd: string[]) => run('nsenter', [`--net=/var/run/netns/${hosts[i - 1]!.name}`, '--', ...cmd]);
    const table = (i: number) => inHost(i, ['nft', 'list', 'table', 'ip', 'kube-proxy']);
    const natChains = async (i: number) => (await inHost(i, ['iptables', '-t', 'nat', '-S'])).stdout;
    await until('both nodes programmed', async () => ((await natChains(1)).includes('-N KUBE-SVC-') && (await table(2)).stdout.includes('chain service-') ? true : undefined), { timeoutMs: 30_000 });
    assert.notEqual((await table(1)).code, 0);
    assert.doesNotMatch(await natChains(2), /KUBE-SERVICES/);
  });

  const nodes = new Map<string, Node>();
  const routesIn = async (h: Host) => runOk('ip', ['-n', h.name, '-4', 'route', 'show', 'proto', ROUTE_PROTO]);

  test('every node is Ready with its own pod range and its InternalIP', async () => {
    for (const h of hosts) {
      const n = await until(`node ${h.name} Ready`, async () => {
        const r = await kubectl(server!, oldest, ['get', 'node', h.name, '-o', 'json']);
        const n = r.code === 0 ? (JSON.parse(r.stdout) as Node) : undefined;
        return n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? n : undefined;
      }, { timeoutMs: 60_000, detail });
      assert.equal(n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address, h.ip);
      assert.match(n.spec?.podCIDR ?? '', /^10\.42\.\d+\.0\/24$/);
      assert.deepEqual(n.spec?.podCIDRs, [n.spec?.podCIDR]);
      nodes.set(h.name, n);
    }
    const ranges = [...nodes.values()].map((n) => n.spec?.podCIDR);
    assert.equal(new Set(ranges).size, ranges.length, `distinct pod ranges: ${ranges.join(', ')}`);
  });

  test('each host joined with the node token: its certificates came through approved requests', async () => {
    const csrs = await kubectlOk(server!, oldest, ['get', 'csr']);
    for (const h of hosts) {
      assert.match(csrs, new RegExp(`kubernetes\\.io/kubelet-serving\\s+system:node:${h.name}\\s+\\S+\\s+Approved,Issued`), csrs);
      assert.match(h.output(), new RegExp(`agent: joined https://${HOSTS_GATEWAY.replace(/\./g, '\\.')}:\\d+ as system:node:${h.name}`));
    }
    assert.equal((csrs.match(/kubernetes\.io\/kube-apiserver-client-kubelet\s+system:bootstrap:\w+\s+\S+\s+Approved,Issued/g) ?? []).length, hosts.length, csrs);
  });

  test('each host routes the other node\'s pod range via its InternalIP, and its guard lets only pod traffic out', async () => {
    for (const h of hosts) {
      const other = hosts.find((o) => o !== h)!;
      const want = `${nodes.get(other.name)!.spec!.podCIDR} via ${other.ip}`;
      await until(`${h.name} routes ${want}`, async () => (await routesIn(h)).includes(want), { timeoutMs: 30_000, detail });
      assert.match(await routesIn(h), /^unreachable 10\.42\.0\.0\/16 /m, 'pod addresses no node holds go nowhere');
      const guard = await runOk('ip', ['netns', 'exec', h.name, 'iptables', '-S', 'BOSUN-GUARD-bosun0']);
      assert.match(guard, /-A BOSUN-GUARD-bosun0 -d 10\.42\.0\.0\/16 -o eth0 .*-j RETURN/);
      assert.match(guard, /-A BOSUN-GUARD-bosun0 -s 10\.42\.0\.0\/16 .*-j REJECT/);
      // The bridge on the host carries the node's own range's gateway.
      const bridge = await runOk('ip', ['-n', h.name, '-4', '-o', 'addr', 'show', 'dev', 'bosun0']);
      assert.ok(bridge.includes(`${nodes.get(h.name)!.spec!.podCIDR!.replace(/0\/24$/, '1')}/24`), bridge);
    }
  });

  test('every pod pinned to a node got an address of its node\'s range', async () => {
    for (const d of podDefs) {
      const range = nodes.get(nodeFor(d.name))!.spec!.podCIDR!.replace(/0\/24$/, '');
      assert.ok(ip[d.name]!.startsWith(range), `${d.name}: ${ip[d.name]} in ${range}0/24`);
    }
  });

  for (const [from, to] of [[1, 2], [2, 1]] as const) {
    test(`a pod on node ${from} fetches the page of the pod on node ${to} over HTTP`, async () => {
      const target = `web-${to}`;
      const name = `get-${from}-${to}`;
      const pod: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: {
          nodeName: `bosun-h${from}`,
          restartPolicy: 'Never',
          // Exit 0 only when the page came back (Debian's busybox wget -T crashes: timeout instead).
          containers: [{ name: 'get', image: busyboxImage, command: ['sh', '-c', `timeout 5 wget -qO- http://${ip[target]}:8080/ | grep -qx ${target}`] }],
        },
      };
      await kubectlOk(server!, oldest, ['apply', '-f', '-'], { input: JSON.stringify(pod) });
      const p = await until(`${name} finished`, async () => {
        const p = await getPod(server!, name);
        return p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed' ? p : undefined;
      }, { timeoutMs: 60_000, detail });
      assert.equal(p.status?.phase, 'Succeeded', JSON.stringify(p.status?.containerStatuses?.[0]?.state));
    });
  }

  test('pods reach each other by pod IP across nodes, both ways', async () => {
    assert.deepEqual(await answers('frontend-1', `http://${ip['web-2']}/`, 1), ['web-2']);
    assert.deepEqual(await answers('frontend-2', `http://${ip['web-1']}/`, 1), ['web-1']);
    assert.deepEqual(await answers('other-1', `http://${ip['web-2']}:8080/`, 1), ['web-2']);
  });

  test('the cluster IP answers pods on both nodes from endpoints on both nodes', async () => {
    const cip = await clusterIP('web');
    for (const from of ['frontend-1', 'frontend-2']) {
      const a = await answers(from, `http://${cip}/`, 12, onBothNodes);
      assert.ok(onBothNodes(a), a.join(' '));
    }
  });

  test('the Service by DNS name and by short name, from pods on both nodes', async () => {
    for (const from of ['frontend-1', 'frontend-2']) {
      for (const name of ['web.default.svc.cluster.local', 'web']) {
        const a = await answers(from, `http://${name}/`, 12, onBothNodes);
        assert.ok(onBothNodes(a), `${from} → ${name}: ${a.join(' ')}`);
      }
    }
  });

  test('the NodePort answers on every node\'s IP, from a pod and from outside the nodes', async () => {
    const seen = new Set<string>();
    for (const h of hosts) {
      for (const from of ['frontend-1', 'frontend-2']) {
        for (const a of await answers(from, `http://${h.ip}:${nodePort}/`, 4)) seen.add(a);
      }
      const fromOutside = await until(`${h.ip}:${nodePort} from the root namespace`, async () => {
        const out: string[] = [];
        for (let i = 0; i < 6; i++) {
          const r = await fetch(`http://${h.ip}:${nodePort}/`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
          if (!r?.ok) return undefined;
          out.push((await r.text()).trim());
        }
        return out.every((b) => webPods.includes(b)) ? out : undefined;
      }, { timeoutMs: 30_000, detail });
      for (const a of fromOutside) seen.add(a);
    }
    assert.ok(onBothNodes([...seen]), `NodePort answers: ${[...seen].join(' ')}`);
  });

  test('sessionAffinity ClientIP keeps each client on one endpoint', async () => {
    const cip = await clusterIP('web-sticky');
    for (const from of ['frontend-1', 'frontend-2']) {
      const a = await answers(from, `http://${cip}/`, 10);
      assert.equal(new Set(a).size, 1, `${from}: ${a.join(' ')}`);
    }
  });

  test('headless and ExternalName names resolve in a pod', async () => {
    const headless = await until('web-headless answers the web pods', async () => {
      const r = await sh('frontend-1', 'timeout 5 nslookup web-headless.default.svc.cluster.local');
      return webPods.every((p) => r.out.includes(ip[p]!)) ? r.out : undefined;
    }, { timeoutMs: 20_000, detail });
    assert.match(headless, /Name:\s+web-headless\.default\.svc\.cluster\.local/);
    const ext = await until('ext answers through a.example.test', async () => {
      const r = await sh('frontend-2', 'timeout 5 nslookup ext.default.svc.cluster.local');
      return r.out.includes('192.0.2.1') ? r.out : undefined;
    }, { timeoutMs: 20_000, detail });
    assert.match(ext, /a\.example\.test/);
    assert.ok(upstream!.asked.includes('a.example.test A'), `the fake upstream was asked: ${upstream!.asked.join(', ')}`);
  });

  test('kubernetes.default is reachable (TCP 443) from pods on both nodes', async () => {
    for (const from of ['frontend-1', 'frontend-2']) {
      // busybox's TLS client cannot talk to the server: a TCP connect is the check (`-e true` closes at once).
      await until(`${from} connects to kubernetes.default:443`, async () => (await sh(from, 'nc -w 2 kubernetes.default 443 -e true')).code === 0, { timeoutMs: 20_000, detail });
    }
  });

  test('a removed endpoint stops receiving traffic', async () => {
    const cip = await clusterIP('web');
    await kubectlOk(server!, v, ['delete', 'pod', 'web-3', '--wait=false']);
    for (const from of ['frontend-1', 'frontend-2']) {
      const a = await answers(from, `http://${cip}/`, 12, (a) => !a.includes('web-3'));
      assert.ok(!a.includes('web-3'), a.join(' '));
    }
  });

  /** One attempt from pod `from` to `url`: true when the page came back (and names `want`), false when blocked. */
  async function reaches(from: string, url: string, want?: string): Promise<boolean> {
    const r = await sh(from, `timeout 3 wget -q -O - ${url}`);
    if (r.code === 0 && want) assert.equal(r.out.trim(), want, `${from} → ${url}`);
    return r.code === 0;
  }
  async function expectReach(from: string, to: string, want: boolean, port = 80): Promise<void> {
    await until(`${from} ${want ? 'reaches' : 'is blocked from'} ${to}:${port}`, async () => (await reaches(from, `http://${ip[to]}:${port}/`, to)) === want, { timeoutMs: 15_000, detail });
  }

  test('deny-all-ingress blocks every connection into the namespace\'s pods, across nodes', async () => {
    await kubectlOk(server!, v, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-all-ingress' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } }) });
    await expectReach('frontend-1', 'web-2', false);
    await expectReach('frontend-2', 'web-1', false);
    await expectReach('other-1', 'frontend-2', false);
    await expectReach('frontend-1', 'web-1', false); // same node too
    assert.equal(await reaches('frontend-2', `http://${await clusterIP('web')}/`), false, 'through the Service too');
    await kubectlOk(server!, v, ['delete', 'networkpolicy', 'deny-all-ingress']);
    await expectReach('frontend-1', 'web-2', true);
    await expectReach('other-1', 'frontend-2', true);
  });

  test('web-netpol lets exactly app=frontend reach app=web on TCP 80, across nodes', async () => {
    await kubectlOk(server!, v, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'web-netpol' },
        spec: {
          podSelector: { matchLabels: { app: 'web' } },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 80 }] }],
        },
      }),
    });
    await expectReach('other-1', 'web-2', false);
    await expectReach('other-2', 'web-1', false);
    await expectReach('frontend-1', 'web-2', true);
    await expectReach('frontend-2', 'web-1', true);
    await expectReach('frontend-1', 'web-2', false, 8080); // only port 80
    await expectReach('frontend-2', 'web-1', false, 8080);
    await expectReach('other-1', 'frontend-2', true); // frontend pods are not selected
    // Through the Service the source stays the pod: frontend in, other out.
    const cip = await clusterIP('web');
    await answers('frontend-1', `http://${cip}/`, 6, onBothNodes);
    assert.equal(await reaches('other-2', `http://${cip}/`), false, 'other through the Service');
    await kubectlOk(server!, v, ['delete', 'networkpolicy', 'web-netpol']);
    await expectReach('other-1', 'web-2', true);
  });

  // Last: it takes node 2 away.
  test('deleting a Node removes its route on the other host', async () => {
    const [h1, h2] = hosts as [Host, Host];
    const gone = `${nodes.get(h2.name)!.spec!.podCIDR} via ${h2.ip}`;
    assert.ok((await routesIn(h1)).includes(gone));
    await kubectlOk(server!, oldest, ['delete', 'node', h2.name, '--wait=false']);
    await until(`${h1.name} drops ${gone}`, async () => !(await routesIn(h1)).includes(gone), { timeoutMs: 30_000, detail });
  });
});

/**
 * Several nodes on one machine, one flat pod network: `bosun server --disable-agent` bound to
 * the hosts' bridge address, and two namespace hosts (test/e2e/hosts.ts) each running `bosun
 * agent --server --token --node-ip` (joined through the TLS bootstrap). Node IPAM gives each node its own pod range, each agent routes the other's
 * range via its InternalIP (host-gw), pods on different nodes talk HTTP both ways, and deleting
 * a Node takes its route away on the other. Run under `flock /tmp/bosun-agent.lock`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from '../../src/api/index.ts';
import { runOk } from '../../src/network/exec.ts';
import { ROUTE_PROTO } from '../../src/network/routes.ts';
import { getPod, kubectl, kubectlOk, kubectlVersions, startServer, until, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { createHostsBridge, HOSTS_GATEWAY, removeHosts, startHost, stopHosts, type Host } from './hosts.ts';
import { agentSupported, busyboxImage } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
const v = kubectlVersions[0]!;

describe('many nodes on one machine', { skip, timeout: 240_000 }, () => {
  let server: ServerHandle | undefined;
  let hosts: Host[] = [];
  const nodes = new Map<string, Node>();
  const podIPs = new Map<string, string>();

  const routesIn = async (h: Host) => runOk('ip', ['-n', h.name, '-4', 'route', 'show', 'proto', ROUTE_PROTO]);
  const detail = () => hosts.map((h) => `--- ${h.name}\n${h.output().slice(-3000)}`).join('\n') + `\n--- server\n${server?.output().slice(-3000)}`;

  before(async () => {
    await removeHosts();
    await createHostsBridge();
    server = await startServer({ args: ['--bind-address', HOSTS_GATEWAY] });
    hosts = await Promise.all([startHost(server, 1), startHost(server, 2)]);
    // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
    await waitForServiceAccount(server, 'default');
  });

  after(async () => {
    await stopHosts(hosts);
    await server?.stop();
    await removeHosts();
  });

  test('every node is Ready with its own pod range and its InternalIP', async () => {
    for (const h of hosts) {
      const n = await until(`node ${h.name} Ready`, async () => {
        const r = await kubectl(server!, v, ['get', 'node', h.name, '-o', 'json']);
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
    const csrs = await kubectlOk(server!, v, ['get', 'csr']);
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

  test('a web server pod pinned to each node gets an address of its node\'s range', async () => {
    for (const h of hosts) {
      const pod: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `web-${h.index}` },
        spec: {
          nodeName: h.name,
          containers: [{ name: 'web', image: busyboxImage, command: ['sh', '-c', `mkdir -p /www && echo hello-from-${h.name} > /www/index.html && exec httpd -f -p 8080 -h /www`] }],
        },
      };
      await kubectlOk(server!, v, ['apply', '-f', '-'], { input: JSON.stringify(pod) });
    }
    for (const h of hosts) {
      const p = await until(`web-${h.index} running`, async () => {
        const p = await getPod(server!, `web-${h.index}`);
        return p?.status?.phase === 'Running' && p.status.podIP ? p : undefined;
      }, { timeoutMs: 60_000, detail });
      const range = nodes.get(h.name)!.spec!.podCIDR!.replace(/0\/24$/, '');
      assert.ok(p.status!.podIP!.startsWith(range), `${p.status!.podIP} in ${range}0/24`);
      podIPs.set(h.name, p.status!.podIP!);
    }
  });

  for (const [from, to] of [[1, 2], [2, 1]] as const) {
    test(`a pod on node ${from} fetches the page of the pod on node ${to} over HTTP`, async () => {
      const target = `bosun-h${to}`;
      const name = `get-${from}-${to}`;
      const pod: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: {
          nodeName: `bosun-h${from}`,
          restartPolicy: 'Never',
          // Exit 0 only when the page came back (Debian's busybox wget -T crashes: timeout instead).
          containers: [{ name: 'get', image: busyboxImage, command: ['sh', '-c', `timeout 5 wget -qO- http://${podIPs.get(target)}:8080/ | grep -q hello-from-${target}`] }],
        },
      };
      await kubectlOk(server!, v, ['apply', '-f', '-'], { input: JSON.stringify(pod) });
      const p = await until(`${name} finished`, async () => {
        const p = await getPod(server!, name);
        return p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed' ? p : undefined;
      }, { timeoutMs: 60_000, detail });
      assert.equal(p.status?.phase, 'Succeeded', JSON.stringify(p.status?.containerStatuses?.[0]?.state));
    });
  }

  test('deleting a Node removes its route on the other host', async () => {
    const [h1, h2] = hosts as [Host, Host];
    const gone = `${nodes.get(h2.name)!.spec!.podCIDR} via ${h2.ip}`;
    assert.ok((await routesIn(h1)).includes(gone));
    await kubectlOk(server!, v, ['delete', 'node', h2.name, '--wait=false']);
    await until(`${h1.name} drops ${gone}`, async () => !(await routesIn(h1)).includes(gone), { timeoutMs: 30_000, detail });
  });
});

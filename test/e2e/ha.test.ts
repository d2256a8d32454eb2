/**
 * High availability on embedded etcd, with real failures: three `bosun server`s in their own
 * network namespaces (test/e2e/hosts.ts), the first with `--cluster-init`, the others joining it
 * with `--server --token` (bootstrap data, an etcd member each); two agents joined through their
 * client-side load balancer. Writes through each server are read through the others; kill -9 of
 * an etcd member under 500 writes/s loses no acknowledged write; kill -9 of the server that a
 * kubectl and an agent use (and whose controller manager and scheduler lead) interrupts neither
 * for long, another controller manager takes over and a Deployment still rolls out; a partitioned
 * node goes NotReady and its pods are replaced elsewhere; a snapshot taken, the objects wiped, the
 * snapshot restored with `--cluster-reset`: every object is back.
 *
 * Run under `flock /tmp/bosun-agent.lock` (root: namespaces and agents).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Deployment, Node, Pod } from '../../src/api/index.ts';
import { createClient, resources } from '../../src/client/index.ts';
import { run, runOk } from '../../src/network/exec.ts';
import { bosunBin, kubectl, kubectlOk, kubectlVersions, until } from './harness.ts';
import { createHostsBridge, hostName, inHost, removeHosts, startHost, startServerHost, stopHosts, type Host, type ServerHost } from './hosts.ts';
import { agentSupported, busyboxImage } from './node.ts';

const skip = agentSupported() ? false : 'the hosts and agents need root';
const v = kubectlVersions[kubectlVersions.length - 1]!;
/**
 * Shorter than upstream's defaults, so that the test waits less: node monitoring (8 s grace, above
 * the agents' 2 s lease renewal set below) and the leader elections (8 s leases).
 */
const leaderArgs = ['leader-elect-lease-duration=8s', 'leader-elect-renew-deadline=6s', 'leader-elect-retry-period=1s'];
const serverArgs = [
  ...['node-monitor-grace-period=8s', 'node-monitor-period=1s', ...leaderArgs].flatMap((a) => ['--kube-controller-manager-arg', a]),
  ...leaderArgs.flatMap((a) => ['--kube-scheduler-arg', a]),
];

describe('three servers on embedded etcd survive failures', { skip, timeout: 600_000 }, () => {
  const servers: ServerHost[] = [];
  let agents: Host[] = [];
  let token = '';
  const clients: Awaited<ReturnType<typeof createClient>>[] = [];
  const acked = new Set<string>();
  const detail = () => [...servers, ...agents].map((h) => `--- ${h.name}\n${h.output().slice(-2500)}`).join('\n');
  const alive = () => servers.filter((s) => s.proc.exitCode === null && s.proc.signalCode === null);
  const etcdPid = async (s: ServerHost) => Number((await fs.readFile(path.join(s.dataDir, 'server', 'db', 'etcd.pid'), 'utf8')).trim());

  before(async () => {
    await removeHosts();
    await createHostsBridge();
    servers.push(await startServerHost(1, ['--cluster-init', ...serverArgs]));
    token = (await fs.readFile(path.join(servers[0]!.dataDir, 'server', 'token'), 'utf8')).trim();
    // Members join one at a time, as etcd requires.
    for (const i of [2, 3]) servers.push(await startServerHost(i, ['--server', servers[0]!.url, '--token', token, ...serverArgs]));
    // The agents renew their node leases every 2 s (inherited by the agent processes).
    process.env['BOSUN_NODE_HOUSEKEEPING_SECONDS'] = '2';
    agents = await Promise.all([startHost(servers[0]!, 4), startHost(servers[0]!, 5)]);
  });

  after(async () => {
    for (const c of clients) await c.transport.close().catch(() => {});
    await stopHosts(agents);
    await stopHosts(servers);
    await removeHosts();
  });

  test('the second and third servers joined: three etcd members, one CA, every API server in the kubernetes Endpoints', async () => {
    const tls = path.join(servers[0]!.dataDir, 'server', 'tls', 'etcd');
    const members = await runOk('etcdctl', ['--endpoints', 'https://10.44.0.11:2379', '--cacert', path.join(tls, 'server-ca.crt'), '--cert', path.join(tls, 'client.crt'), '--key', path.join(tls, 'client.key'), 'member', 'list', '-w', 'json']);
    const list = (JSON.parse(members) as { members: { name: string; peerURLs: string[] }[] }).members;
    assert.deepEqual(list.map((m) => m.peerURLs[0]).sort(), ['https://10.44.0.11:2380', 'https://10.44.0.12:2380', 'https://10.44.0.13:2380']);
    const ca = await Promise.all(servers.map((s) => fs.readFile(path.join(s.dataDir, 'tls', 'ca.crt'), 'utf8')));
    assert.equal(new Set(ca).size, 1, 'one cluster CA');
    await until('three addresses in the kubernetes Endpoints', async () => {
      const r = await kubectl(servers[1]!, v, ['get', 'endpoints', 'kubernetes', '-o', 'jsonpath={.subsets[0].addresses[*].ip}']);
      return r.stdout.split(' ').sort().join(',') === '10.44.0.11,10.44.0.12,10.44.0.13';
    }, { timeoutMs: 30_000, detail });
  });

  test('a write through each server is read through every other', async () => {
    for (const s of servers) await kubectlOk(s, v, ['create', 'configmap', `via-${s.name}`, '--from-literal', `server=${s.name}`]);
    for (const reader of servers) {
      for (const writer of servers) {
        const got = await until(`via-${writer.name} through ${reader.name}`, async () => {
          const r = await kubectl(reader, v, ['get', 'configmap', `via-${writer.name}`, '-o', 'jsonpath={.data.server}']);
          return r.code === 0 && r.stdout;
        }, { detail });
        assert.equal(got, writer.name);
      }
    }
  });

  test('kill -9 of one etcd member under 500 writes/s: the API keeps answering and no acknowledged write is lost', async () => {
    const writer = await createClient({ component: 'e2e-ha', kubeconfig: servers[0]!.kubeconfig, qps: 2000, burst: 2000 });
    clients.push(writer);
    await writer.create(resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ha-writes' } });
    const victim = servers[2]!;
    const pid = await etcdPid(victim);
    let attempts = 0;
    let killed = false;
    let ackedAfterKill = 0;
    const failures: string[] = [];
    const start = Date.now();
    const durationMs = 4000;
    const workers = 64;
    const perWorkerGapMs = 1000 / (500 / workers);
    const worker = async (w: number) => {
      for (let n = 0; Date.now() - start < durationMs; n++) {
        const due = start + n * perWorkerGapMs;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        const name = `w${w}-${n}`;
        attempts++;
        try {
          await writer.create(resources.configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ha-writes' }, data: { n: String(n) } });
          acked.add(name);
          if (killed) ackedAfterKill++;
        } catch (err) {
          failures.push(`${name}: ${(err as Error).message}`);
        }
      }
    };
    const killer = (async () => {
      await new Promise((r) => setTimeout(r, 1000));
      process.kill(pid, 'SIGKILL');
      killed = true;
    })();
    await Promise.all([killer, ...Array.from({ length: workers }, (_, w) => worker(w))]);
    const rate = attempts / (durationMs / 1000);
    // The writers aim at 500/s; what three servers and three members on two cores reach is printed, not asserted.
    process.stdout.write(`# ${attempts} writes in ${durationMs} ms (${rate.toFixed(0)}/s), ${acked.size} acknowledged (${ackedAfterKill} after the kill), ${failures.length} failed${failures.length ? `: ${failures.slice(0, 3).join('; ')}` : ''}\n`);
    assert.ok(ackedAfterKill > 0, 'writes were acknowledged after the member died');
    assert.ok(failures.length <= attempts * 0.02, `at most 2 % of writes failed while a member died (${failures.length} of ${attempts})`);
    // Every acknowledged write is there, read through another server.
    const reader = await createClient({ component: 'e2e-ha', kubeconfig: servers[1]!.kubeconfig });
    clients.push(reader);
    await until('every acknowledged write listed', async () => {
      const names = new Set((await reader.list(resources.configMaps, { namespace: 'ha-writes' })).items.map((c) => c.metadata.name!));
      const missing = [...acked].filter((n) => !names.has(n));
      return missing.length === 0;
    }, { timeoutMs: 30_000, detail });
    // The member comes back by itself.
    await until('the killed member restarted', async () => /etcd: member \S+ running again/.test(victim.output()), { timeoutMs: 60_000, detail });
  });

  test('kill -9 of the server a kubectl and an agent use: both go on through another; another controller manager leads and a Deployment rolls out', async () => {
    const first = servers[0]!;
    // kubectl on host 4 through the agent's load balancer (127.0.0.1:6444 in its namespace).
    const lbKubeconfig = path.join(agents[0]!.dataDir, 'admin-lb.yaml');
    await fs.writeFile(lbKubeconfig, (await fs.readFile(first.kubeconfig, 'utf8')).replace(first.url, 'https://127.0.0.1:6444'));
    const viaLb = (args: string[]) => inHost(4, '/usr/bin/kubectl', ['--kubeconfig', lbKubeconfig, '--request-timeout', '5s', ...args]);
    const before = await viaLb(['get', 'configmap', `via-${first.name}`, '-o', 'name']);
    assert.equal(before.code, 0, before.stderr);
    // The first server started first: its controller manager leads.
    const lease = await kubectlOk(servers[1]!, v, ['-n', 'kube-system', 'get', 'lease', 'kube-controller-manager', '-o', 'jsonpath={.spec.holderIdentity}']);
    assert.ok(first.output().includes(`${lease} acquired the lease`), `the first server's controller manager leads (${lease})`);
    // kill -9 the whole server (its etcd member dies with it).
    const killedAt = Date.now();
    process.kill(-first.proc.pid!, 'SIGKILL');
    await until('kubectl through the load balancer answers again', async () => (await viaLb(['get', 'configmap', `via-${first.name}`, '-o', 'name'])).code === 0, { timeoutMs: 60_000, detail });
    process.stdout.write(`# kubectl answered again ${Date.now() - killedAt} ms after the server died\n`);
    const other = servers[1]!;
    const newLeader = await until('another controller manager leads', async () => {
      const r = await kubectl(other, v, ['-n', 'kube-system', 'get', 'lease', 'kube-controller-manager', '-o', 'jsonpath={.spec.holderIdentity}']);
      return r.code === 0 && r.stdout && r.stdout !== lease ? r.stdout : undefined;
    }, { timeoutMs: 60_000, detail });
    process.stdout.write(`# ${newLeader} leads ${Date.now() - killedAt} ms after the leader died\n`);
    // The agent goes on: its node stays Ready and a pod bound to it runs.
    await kubectlOk(other, v, ['run', 'after-failover', `--image=${busyboxImage}`, '--restart=Never', '--overrides', JSON.stringify({ spec: { nodeName: agents[0]!.name } }), '--', 'sleep', '3600']);
    await until('the pod on the agent runs', async () => {
      const r = await kubectl(other, v, ['get', 'pod', 'after-failover', '-o', 'jsonpath={.status.phase}']);
      return r.stdout === 'Running';
    }, { timeoutMs: 60_000, detail });
    const node = JSON.parse(await kubectlOk(other, v, ['get', 'node', agents[0]!.name, '-o', 'json'])) as Node;
    assert.equal(node.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    // A Deployment rolls out under the new leader (and the scheduler that took over).
    await kubectlOk(other, v, ['apply', '-f', '-'], { input: JSON.stringify(webDeployment()) });
    await until('the Deployment rolled out', async () => {
      const r = await kubectl(other, v, ['get', 'deployment', 'web', '-o', 'json']);
      const d = r.code === 0 ? (JSON.parse(r.stdout) as Deployment) : undefined;
      return d?.status?.readyReplicas === 2 && d.status.updatedReplicas === 2;
    }, { timeoutMs: 90_000, detail });
  });

  test('a partitioned node turns NotReady and its pods are replaced on another node', async () => {
    const api = servers[1]!;
    const cut = agents[1]!;
    const podsOn = async (node: string) => (JSON.parse(await kubectlOk(api, v, ['get', 'pods', '-l', 'app=web', '-o', 'json'])) as { items: Pod[] }).items.filter((p) => p.spec?.nodeName === node && !p.metadata.deletionTimestamp);
    // Both replicas may already sit on the other node; put one on the one we cut.
    if ((await podsOn(cut.name)).length === 0) {
      await kubectlOk(api, v, ['run', 'on-cut', `--image=${busyboxImage}`, '--restart=Never', '--labels', 'app=bystander', '--overrides', JSON.stringify({ spec: { nodeName: cut.name } }), '--', 'sleep', '3600']);
    }
    const before = await podsOn(cut.name);
    await runOk('ip', ['link', 'set', `bhv${cut.index}`, 'down']);
    try {
      await until(`node ${cut.name} NotReady`, async () => {
        const n = JSON.parse(await kubectlOk(api, v, ['get', 'node', cut.name, '-o', 'json'])) as Node;
        return n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'Unknown';
      }, { timeoutMs: 60_000, detail });
      // The web pods tolerate an unreachable node for 2 s: then they are evicted and replaced.
      await until('the Deployment has its replicas ready off the cut node', async () => {
        const d = JSON.parse(await kubectlOk(api, v, ['get', 'deployment', 'web', '-o', 'json'])) as Deployment;
        const off = (JSON.parse(await kubectlOk(api, v, ['get', 'pods', '-l', 'app=web', '-o', 'json'])) as { items: Pod[] }).items.filter((p) => !p.metadata.deletionTimestamp && p.spec?.nodeName !== cut.name && p.status?.phase === 'Running');
        return d.status?.availableReplicas === 2 && off.length >= 2;
      }, { timeoutMs: 120_000, detail });
      process.stdout.write(`# ${before.length} pods were on ${cut.name} when it was cut\n`);
    } finally {
      await run('ip', ['link', 'set', `bhv${cut.index}`, 'up']);
    }
  });

  test('snapshot, wipe, restore with --cluster-reset: every object is back', async () => {
    const keep = servers[1]!;
    const out = await runOk(bosunBin, ['etcd-snapshot', 'save', '--data-dir', keep.dataDir, '--server', keep.url, '--name', 'before-wipe']);
    const m = /Snapshot (\S+) saved/.exec(out);
    assert.ok(m, out);
    const file = path.join(keep.dataDir, 'server', 'db', 'snapshots', m[1]!);
    await fs.access(file);
    // Wipe: the namespace of writes and the three ConfigMaps go.
    await kubectlOk(keep, v, ['delete', 'configmap', ...servers.map((s) => `via-${s.name}`)]);
    await kubectlOk(keep, v, ['delete', 'namespace', 'ha-writes', '--wait=false']);
    await until('the wipe is done', async () => (await kubectl(keep, v, ['get', 'namespace', 'ha-writes'])).code !== 0, { timeoutMs: 60_000, detail });
    // Every server stops; the kept one restores the snapshot as a cluster of one and starts alone.
    await stopHosts(agents);
    await stopHosts(alive());
    const reset = await inHost(keep.index, bosunBin, ['server', '--data-dir', keep.dataDir, '--node-name', keep.name, '--bind-address', keep.ip, '--advertise-address', keep.ip, '--disable-agent', '--cluster-reset', '--cluster-reset-restore-path', file]);
    assert.equal(reset.code, 0, reset.stdout + reset.stderr);
    assert.match(reset.stdout + reset.stderr, /Managed etcd cluster membership has been reset, restart without --cluster-reset flag now/);
    const restored = await startServerHost(keep.index, [...serverArgs], { dataDir: keep.dataDir });
    servers.push(restored);
    for (const s of servers.slice(0, 3)) {
      const r = await kubectl(restored, v, ['get', 'configmap', `via-${s.name}`, '-o', 'jsonpath={.data.server}']);
      assert.equal(r.stdout, s.name, r.stderr);
    }
    const client = await createClient({ component: 'e2e-ha', kubeconfig: restored.kubeconfig });
    clients.push(client);
    const names = new Set((await client.list(resources.configMaps, { namespace: 'ha-writes' })).items.map((c) => c.metadata.name!));
    const missing = [...acked].filter((n) => !names.has(n));
    assert.deepEqual(missing, [], `every acknowledged write is back (${acked.size})`);
    const tls = path.join(keep.dataDir, 'server', 'tls', 'etcd');
    const members = await inHost(keep.index, 'etcdctl', ['--endpoints', `https://${keep.ip}:2379`, '--cacert', path.join(tls, 'server-ca.crt'), '--cert', path.join(tls, 'client.crt'), '--key', path.join(tls, 'client.key'), 'member', 'list']);
    assert.equal(members.stdout.trim().split('\n').length, 1, members.stdout);
    assert.equal(hostName(keep.index), keep.name);
  });
});

/** Two busybox replicas that tolerate an unreachable or not-ready node for 2 s. */
function webDeployment(): Deployment {
  const tolerations = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'].map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 }));
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { tolerations, terminationGracePeriodSeconds: 1, containers: [{ name: 'web', image: busyboxImage, command: ['sleep', '3600'] }] },
      },
    },
  } as Deployment;
}

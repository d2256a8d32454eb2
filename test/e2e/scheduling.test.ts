/**
 * Issue 5 end to end (first part): `bin/bosun server --disable-agent --virtual-nodes 3` with the
 * in-process scheduler. Simulated nodes register and run bound pods; the scheduler places a
 * Deployment's pods, honours nodeSelector and node affinity, taints and tolerations, cordoned
 * nodes, and explains what does not fit as upstream does.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, kubectl, kubectlOk, until, waitForServiceAccount, type ServerHandle } from './harness.ts';

let server: ServerHandle;
const v = '33';

before(async () => {
  server = await startServer({ args: ['--virtual-nodes', '3'] });
  // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'default');
});

after(async () => {
  await server?.stop();
});

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

async function pod(name: string): Promise<Pod> {
  return JSON.parse(await kubectlOk(server, v, ['get', 'pod', name, '-o', 'json'])) as Pod;
}

async function run(name: string, overrides: Record<string, unknown>): Promise<void> {
  await kubectlOk(server, v, ['run', name, '--image', 'busybox', `--overrides=${JSON.stringify({ apiVersion: 'v1', spec: overrides })}`]);
}

const scheduledTo = async (name: string) => (await pod(name)).spec.nodeName;

describe('virtual nodes and the scheduler', () => {
  test('three simulated nodes register Ready, with zone labels', async () => {
    const nodes = await until('3 Ready nodes', async () => {
      const out = await kubectlOk(server, v, ['get', 'nodes', '-o', 'json']);
      const items = (JSON.parse(out) as { items: { metadata: { name: string; labels: Record<string, string> }; status: { conditions: { type: string; status: string }[] } }[] }).items;
      return items.length === 3 && items.every((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')) ? items : null;
    });
    assert.deepEqual(nodes.map((n) => n.metadata.labels['topology.kubernetes.io/zone']).sort(), ['zone-a', 'zone-b', 'zone-c']);
  });

  test('a Deployment is scheduled, runs and spreads over the nodes', async () => {
    await kubectlOk(server, v, ['create', 'deployment', 'web', '--image', 'busybox', '--replicas', '6']);
    const r = await kubectl(server, v, ['rollout', 'status', 'deployment/web', '--timeout', '30s'], { timeoutMs: 40_000 });
    assert.equal(r.code, 0, r.stderr);
    const pods = JSON.parse(await kubectlOk(server, v, ['get', 'pods', '-l', 'app=web', '-o', 'json'])).items as Pod[];
    const perNode = new Map<string, number>();
    for (const p of pods) perNode.set(p.spec.nodeName!, (perNode.get(p.spec.nodeName!) ?? 0) + 1);
    assert.equal(perNode.size, 3, `pods all on ${[...perNode.keys()].join(', ')}`);
    for (const p of pods) assert.equal(p.status.phase, 'Running');
  });

  test('nodeSelector and required node affinity pick the node', async () => {
    await run('sel', { nodeSelector: { 'kubernetes.io/hostname': 'virtual-node-1' } });
    await run('aff', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['zone-c'] }] }] } } } });
    assert.equal(await until('sel to be bound', () => scheduledTo('sel')), 'virtual-node-1');
    assert.equal(await until('aff to be bound', () => scheduledTo('aff')), 'virtual-node-2');
  });

  test('a tainted node only takes pods that tolerate the taint', async () => {
    await kubectlOk(server, v, ['taint', 'node', 'virtual-node-0', 'dedicated=gpu:NoSchedule']);
    await run('plain', { nodeSelector: { 'kubernetes.io/hostname': 'virtual-node-0' } });
    await run('tolerant', { nodeSelector: { 'kubernetes.io/hostname': 'virtual-node-0' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] });
    assert.equal(await until('tolerant to be bound', () => scheduledTo('tolerant')), 'virtual-node-0');
    const cond = await until('plain to be reported unschedulable', async () => (await pod('plain')).status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False'));
    assert.equal(cond.reason, 'Unschedulable');
    assert.equal(cond.message, "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
    // Removing the taint makes it schedulable: the node change moves it back to the active queue.
    await kubectlOk(server, v, ['taint', 'node', 'virtual-node-0', 'dedicated=gpu:NoSchedule-']);
    assert.equal(await until('plain to be bound', () => scheduledTo('plain')), 'virtual-node-0');
  });

  test('too large a request says Insufficient cpu on every node', async () => {
    await run('huge', { containers: [{ name: 'huge', image: 'busybox', resources: { requests: { cpu: '64' } } }] });
    const cond = await until('huge to be unschedulable', async () => (await pod('huge')).status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False'));
    assert.equal(cond.message, '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.');
    const events = await kubectlOk(server, v, ['get', 'events', '--field-selector', 'involvedObject.name=huge', '-o', 'json']);
    assert.ok((JSON.parse(events).items as { reason: string }[]).some((e) => e.reason === 'FailedScheduling'));
  });

  test('a cordoned node gets no new pods; uncordon lets them in', async () => {
    await kubectlOk(server, v, ['cordon', 'virtual-node-2']);
    await run('cordoned', { nodeSelector: { 'kubernetes.io/hostname': 'virtual-node-2' } });
    const cond = await until('cordoned to be unschedulable', async () => (await pod('cordoned')).status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False'));
    assert.match(cond.message!, /1 node\(s\) were unschedulable/);
    await kubectlOk(server, v, ['uncordon', 'virtual-node-2']);
    assert.equal(await until('cordoned to be bound', () => scheduledTo('cordoned')), 'virtual-node-2');
  });
});

describe('eviction and drain', () => {
  test('drain evicts within the PodDisruptionBudget, cordons, and uncordon reopens the node', async () => {
    await kubectlOk(server, v, ['create', 'deployment', 'guarded', '--image', 'busybox', '--replicas', '3']);
    await kubectl(server, v, ['rollout', 'status', 'deployment/guarded', '--timeout', '30s'], { timeoutMs: 40_000 });
    await kubectlOk(server, v, ['create', 'poddisruptionbudget', 'guarded', '--selector', 'app=guarded', '--min-available', '3']);
    const pdb = await until('the budget status', async () => {
      const b = JSON.parse(await kubectlOk(server, v, ['get', 'pdb', 'guarded', '-o', 'json']));
      return b.status?.observedGeneration === b.metadata.generation && b.status.currentHealthy === 3 ? b : null;
    });
    assert.equal(pdb.status.disruptionsAllowed, 0);

    // With no disruption allowed, an eviction is refused with 429.
    const victim = (JSON.parse(await kubectlOk(server, v, ['get', 'pods', '-l', 'app=guarded', '-o', 'json'])).items as Pod[])[0]!;
    const node = victim.spec.nodeName!;
    const refused = await kubectl(server, v, ['drain', node, '--ignore-daemonsets', '--timeout', '3s', '--pod-selector', 'app=guarded'], { timeoutMs: 20_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr + refused.stdout, /Cannot evict pod as it would violate the pod's disruption budget/);

    // Loosen the budget: the drain goes through and the pods come back elsewhere.
    await kubectlOk(server, v, ['patch', 'pdb', 'guarded', '--type', 'merge', '-p', JSON.stringify({ spec: { minAvailable: 2 } })]);
    await until('one disruption to be allowed', async () => JSON.parse(await kubectlOk(server, v, ['get', 'pdb', 'guarded', '-o', 'json'])).status?.disruptionsAllowed >= 1);
    const drained = await kubectl(server, v, ['drain', node, '--ignore-daemonsets', '--force', '--delete-emptydir-data', '--timeout', '30s'], { timeoutMs: 40_000 });
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, /evicting pod|drained/);
    const n = JSON.parse(await kubectlOk(server, v, ['get', 'node', node, '-o', 'json']));
    assert.equal(n.spec.unschedulable, true);
    await until('3 guarded pods running on other nodes', async () => {
      const ps = (JSON.parse(await kubectlOk(server, v, ['get', 'pods', '-l', 'app=guarded', '-o', 'json'])).items as (Pod & { metadata: { deletionTimestamp?: string } })[]).filter((p) => !p.metadata.deletionTimestamp);
      return ps.length === 3 && ps.every((p) => p.spec.nodeName && p.spec.nodeName !== node && p.status.phase === 'Running');
    }, { timeoutMs: 30_000 });
    await kubectlOk(server, v, ['uncordon', node]);
  });
});

describe('pod affinity and topology spread', () => {
  test('required anti-affinity by hostname leaves the fourth replica Pending with the reason', async () => {
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'solo' },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'solo' } },
        template: {
          metadata: { labels: { app: 'solo' } },
          spec: {
            containers: [{ name: 'c', image: 'busybox' }],
            affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'solo' } }, topologyKey: 'kubernetes.io/hostname' }] } },
          },
        },
      },
    };
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(deploy) });
    const pending = await until('one solo pod to be unschedulable', async () => {
      const ps = JSON.parse(await kubectlOk(server, v, ['get', 'pods', '-l', 'app=solo', '-o', 'json'])).items as Pod[];
      const bound = ps.filter((p) => p.spec.nodeName);
      const waiting = ps.filter((p) => p.status.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False'));
      return ps.length === 4 && bound.length === 3 && waiting.length === 1 ? { bound, waiting } : null;
    });
    assert.equal(new Set(pending.bound.map((p) => p.spec.nodeName)).size, 3);
    const cond = pending.waiting[0]!.status.conditions!.find((c) => c.type === 'PodScheduled')!;
    assert.match(cond.message!, /^0\/3 nodes are available: 3 node\(s\) didn't match pod anti-affinity rules\. /);
  });

  test('topology spread keeps the skew across hosts within maxSkew', async () => {
    for (const name of ['pre-1', 'pre-2']) {
      await run(name, { nodeName: 'virtual-node-0' });
      await kubectlOk(server, v, ['label', 'pod', name, 'app=spread']);
    }
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'spread' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'spread', tier: 'x' } },
        template: {
          metadata: { labels: { app: 'spread', tier: 'x' } },
          spec: {
            containers: [{ name: 'c', image: 'busybox' }],
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'spread' } } }],
          },
        },
      },
    };
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(deploy) });
    const r = await kubectl(server, v, ['rollout', 'status', 'deployment/spread', '--timeout', '30s'], { timeoutMs: 40_000 });
    assert.equal(r.code, 0, r.stderr);
    const ps = JSON.parse(await kubectlOk(server, v, ['get', 'pods', '-l', 'app=spread', '-o', 'json'])).items as Pod[];
    const per = new Map<string, number>();
    for (const p of ps) per.set(p.spec.nodeName!, (per.get(p.spec.nodeName!) ?? 0) + 1);
    const counts = ['virtual-node-0', 'virtual-node-1', 'virtual-node-2'].map((n) => per.get(n) ?? 0);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `skew too large: ${counts.join(', ')}`);
    assert.equal(per.get('virtual-node-0'), 2, 'a spread pod went to the node that already had two');
  });
});

describe('preemption', () => {
  test('a high-priority pod preempts a low-priority one when nothing else fits', async () => {
    for (const [name, value] of [['low', 100], ['high', 1000]] as const) {
      await kubectlOk(server, v, ['create', 'priorityclass', name, `--value=${value}`]);
    }
    const big = (name: string, priorityClassName: string) => ({ priorityClassName, containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '20' } } }] });
    for (const n of ['low-1', 'low-2', 'low-3']) await run(n, big(n, 'low'));
    await until('the low pods to run on three nodes', async () => {
      const ps = await Promise.all(['low-1', 'low-2', 'low-3'].map(pod));
      return ps.every((p) => p.status.phase === 'Running') && new Set(ps.map((p) => p.spec.nodeName)).size === 3;
    });
    // low-1 is protected by a disruption budget: preemption picks another victim.
    await kubectlOk(server, v, ['create', 'poddisruptionbudget', 'protect-low-1', '--selector', 'run=low-1', '--min-available', '1']);
    await until('the budget to allow no disruption', async () => {
      const b = JSON.parse(await kubectlOk(server, v, ['get', 'pdb', 'protect-low-1', '-o', 'json']));
      return b.status?.observedGeneration === b.metadata.generation && b.status.currentHealthy === 1 && b.status.disruptionsAllowed === 0;
    });
    await run('vip', big('vip', 'high'));
    const node = await until('the high-priority pod to be bound', () => scheduledTo('vip'), { timeoutMs: 30_000 });
    assert.notEqual(node, (await pod('low-1')).spec.nodeName, 'the protected pod was preempted');
    const lows = await Promise.all(['low-1', 'low-2', 'low-3'].map(async (n) => (await kubectl(server, v, ['get', 'pod', n, '-o', 'json'])).code === 0 ? await pod(n) : null));
    const left = lows.filter((p) => p && p.spec.nodeName !== node);
    assert.equal(left.length, 2, 'more than one low-priority pod was preempted');
    const events = JSON.parse(await kubectlOk(server, v, ['get', 'events', '-o', 'json'])).items as { reason: string; message: string }[];
    assert.ok(events.some((e) => e.reason === 'Preempted' && e.message.includes(`on node ${node}`)));
  });
});

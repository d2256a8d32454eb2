/**
 * DaemonSets end to end (issue 15) against `bin/bosun server --virtual-nodes 3`, driven with the
 * real kubectl: a pod on every node, a node selector limiting them, a tainted node skipped unless
 * tolerated (pods already there stay), a node added later (a second `bosun virtual-nodes`
 * process) getting its pod, RollingUpdate with maxUnavailable and with maxSurge replacing every
 * pod, OnDelete waiting for the user's deletions, and `kubectl rollout status|history|undo
 * daemonset/x` with kubectl 1.27 and 1.33.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { DaemonSet, Pod } from '../../src/api/index.ts';
import { bosunBin, kubectl, kubectlBackground, kubectlOk, kubectlVersions, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';

let server: ServerHandle;
useServer({ args: ['--virtual-nodes', '3'] }, (s) => {
  server = s;
});

const v = kubectlVersions.at(-1)!;
const nodes = ['virtual-node-0', 'virtual-node-1', 'virtual-node-2'];
const image = (tag: string) => `registry.k8s.io/pause:${tag}`;

async function namespace(name: string): Promise<void> {
  await kubectlOk(server, v, ['create', 'namespace', name]);
  await waitForServiceAccount(server, name);
}

interface DsOpts {
  tag?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: object[];
  strategy?: object;
  annotations?: Record<string, string>;
}

function manifest(name: string, o: DsOpts = {}): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      selector: { matchLabels: { app: name } },
      ...(o.strategy ? { updateStrategy: o.strategy } : {}),
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: 'c', image: image(o.tag ?? '3.9') }],
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          ...(o.tolerations ? { tolerations: o.tolerations } : {}),
        },
      },
    },
  });
}

const apply = (ns: string, name: string, o: DsOpts = {}, minor = v) => kubectlOk(server, minor, ['-n', ns, 'apply', '-f', '-'], { input: manifest(name, o) });

async function getDs(ns: string, name: string): Promise<DaemonSet> {
  return JSON.parse(await kubectlOk(server, v, ['-n', ns, 'get', 'daemonset', name, '-o', 'json'])) as DaemonSet;
}

/** The DaemonSet's pods that are not being deleted. */
async function podsOf(ns: string, name: string): Promise<Pod[]> {
  const list = JSON.parse(await kubectlOk(server, v, ['-n', ns, 'get', 'pods', '-l', `app=${name}`, '-o', 'json'])) as { items: Pod[] };
  return list.items.filter((p) => !p.metadata.deletionTimestamp);
}

/** Node name → image of the running, ready pods; undefined until each node has exactly one. */
async function placed(ns: string, name: string): Promise<Record<string, string> | undefined> {
  const out: Record<string, string> = {};
  for (const p of await podsOf(ns, name)) {
    const node = p.spec?.nodeName;
    const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (!node || !ready || out[node]) return undefined;
    out[node] = p.spec!.containers[0]!.image!;
  }
  return out;
}

/** Waits until exactly `want` nodes each run one ready pod, all of `tag`; the nodes, sorted. */
async function settled(ns: string, name: string, want: string[], tag = '3.9'): Promise<void> {
  let last: Record<string, string> | undefined;
  await until(
    `daemonset ${ns}/${name} on ${want.join(',')} with ${tag}`,
    async () => {
      last = await placed(ns, name);
      if (!last) return false;
      const ds = await getDs(ns, name);
      const st = ds.status;
      return (
        Object.keys(last).sort().join() === [...want].sort().join() &&
        Object.values(last).every((i) => i === image(tag)) &&
        st?.observedGeneration === ds.metadata.generation &&
        st?.desiredNumberScheduled === want.length &&
        st.numberAvailable === want.length &&
        (st.updatedNumberScheduled ?? 0) === want.length
      );
    },
    { timeoutMs: 60_000, detail: () => JSON.stringify(last) },
  );
}

async function rolloutStatus(ns: string, name: string, minor: string): Promise<string> {
  const r = await kubectl(server, minor, ['-n', ns, 'rollout', 'status', `daemonset/${name}`, '--timeout', '60s'], { timeoutMs: 70_000 });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return r.stdout;
}

test('a pod on every node, a node selector limits them, events name the pods', async () => {
  await namespace('ds-place');
  await apply('ds-place', 'all');
  await settled('ds-place', 'all', nodes);
  // Simulated nodes spread over zones a, b, c in order: only node 0 is in zone-a.
  await apply('ds-place', 'zone-a', { nodeSelector: { 'topology.kubernetes.io/zone': 'zone-a' } });
  await settled('ds-place', 'zone-a', ['virtual-node-0']);
  const out = await kubectlOk(server, v, ['-n', 'ds-place', 'get', 'daemonset', 'zone-a']);
  assert.match(out, /^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE/);
  assert.match(out, /\nzone-a\s+1\s+1\s+1\s+1\s+1\s+topology\.kubernetes\.io\/zone=zone-a\s/);
  const events = await kubectlOk(server, v, ['-n', 'ds-place', 'get', 'events', '--field-selector', 'involvedObject.name=all', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
  assert.equal(events.split('\n').filter((l) => /^SuccessfulCreate: Created pod: all-\w{5}$/.test(l)).length, 3, events);
});

test('a tainted node gets no new pod unless tolerated; pods already there stay', async () => {
  await namespace('ds-taint');
  await apply('ds-taint', 'before');
  await settled('ds-taint', 'before', nodes);
  await kubectlOk(server, v, ['taint', 'nodes', 'virtual-node-2', 'dedicated=db:NoSchedule']);
  try {
    // NoSchedule does not evict: the earlier DaemonSet keeps its pod there, which upstream
    // reports as misscheduled (the node no longer counts as desired). Seeing that also tells the
    // controller has the taint before the next DaemonSets are made.
    await until('the earlier DaemonSet reporting its pod on the tainted node as misscheduled', async () => {
      const st = (await getDs('ds-taint', 'before')).status;
      return st?.numberMisscheduled === 1 && st.desiredNumberScheduled === 2 && st.currentNumberScheduled === 2;
    });
    assert.equal((await placed('ds-taint', 'before'))?.['virtual-node-2'], image('3.9'));
    await apply('ds-taint', 'plain');
    await apply('ds-taint', 'tolerant', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] });
    await settled('ds-taint', 'plain', ['virtual-node-0', 'virtual-node-1']);
    await settled('ds-taint', 'tolerant', nodes);
  } finally {
    await kubectlOk(server, v, ['taint', 'nodes', 'virtual-node-2', 'dedicated-']);
  }
  // The taint gone, the plain DaemonSet gets its third pod.
  await settled('ds-taint', 'plain', nodes);
});

test('a node added later gets its pod', async () => {
  await namespace('ds-late');
  await apply('ds-late', 'late');
  await settled('ds-late', 'late', nodes);
  const proc = spawn(bosunBin, ['virtual-nodes', '--kubeconfig', server.kubeconfig, '--count', '1', '--prefix', 'late-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  try {
    await settled('ds-late', 'late', [...nodes, 'late-0']);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nvirtual-nodes output:\n${out}`);
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
  // The node gone, it is no longer desired.
  await kubectlOk(server, v, ['delete', 'node', 'late-0']);
  await until('desiredNumberScheduled back to 3', async () => (await getDs('ds-late', 'late')).status?.desiredNumberScheduled === 3, { timeoutMs: 30_000 });
});

for (const minor of kubectlVersions) {
  test(`kubectl 1.${minor}: RollingUpdate with maxUnavailable, rollout status, history and undo`, async () => {
    const ns = `ds-roll-${minor}`;
    await namespace(ns);
    await apply(ns, 'web', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } }, annotations: { 'kubernetes.io/change-cause': 'first' } }, minor);
    assert.match(await rolloutStatus(ns, 'web', minor), /daemon set "web" successfully rolled out/);
    await settled(ns, 'web', nodes);

    await kubectlOk(server, minor, ['-n', ns, 'set', 'image', 'daemonset/web', `c=${image('3.10')}`]);
    assert.match(await rolloutStatus(ns, 'web', minor), /daemon set "web" successfully rolled out/);
    await settled(ns, 'web', nodes, '3.10');
    for (const p of await podsOf(ns, 'web')) assert.equal(p.metadata.labels?.['pod-template-generation'], '2');

    const history = await kubectlOk(server, minor, ['-n', ns, 'rollout', 'history', 'daemonset/web']);
    assert.match(history, /REVISION\s+CHANGE-CAUSE/);
    assert.deepEqual([...history.matchAll(/^(\d+)\s/gm)].map((m) => m[1]), ['1', '2'], history);
    assert.match(history, /^1\s+first$/m);
    const first = await kubectlOk(server, minor, ['-n', ns, 'rollout', 'history', 'daemonset/web', '--revision=1']);
    assert.match(first, /Image:\s+registry\.k8s\.io\/pause:3\.9/, first);

    assert.match(await kubectlOk(server, minor, ['-n', ns, 'rollout', 'undo', 'daemonset/web']), /daemonset\.apps\/web rolled back/);
    await rolloutStatus(ns, 'web', minor);
    await settled(ns, 'web', nodes, '3.9');
    const after = await kubectlOk(server, minor, ['-n', ns, 'rollout', 'history', 'daemonset/web']);
    assert.deepEqual([...after.matchAll(/^(\d+)\s/gm)].map((m) => m[1]), ['2', '3'], after);
    // Undoing to the revision already current is skipped, as kubectl compares the revision's data with the live template.
    const again = await kubectlOk(server, minor, ['-n', ns, 'rollout', 'undo', 'daemonset/web', '--to-revision=3']);
    assert.match(again, /skipped rollback \(current template already matches revision 3\)/);
  });
}

test('RollingUpdate with maxSurge starts the new pod before the old one goes', async () => {
  const ns = 'ds-surge';
  await namespace(ns);
  await apply(ns, 'surge', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } });
  await settled(ns, 'surge', nodes);
  // Every state of every pod, in order: a pod is live from its first line until one shows it deleting.
  const watch = kubectlBackground(server, v, ['-n', ns, 'get', 'pods', '-l', 'app=surge', '--watch', '--no-headers', '-o', 'custom-columns=NAME:.metadata.name,NODE:.spec.nodeName,DELETING:.metadata.deletionTimestamp']);
  try {
    await watch.waitFor((out) => out.trim().split('\n').length >= nodes.length, 20_000);
    await kubectlOk(server, v, ['-n', ns, 'set', 'image', 'daemonset/surge', `c=${image('3.10')}`]);
    await settled(ns, 'surge', nodes, '3.10');
  } finally {
    watch.stop();
  }
  // Replayed: whenever an old pod starts terminating, another live pod already runs on its node.
  const live = new Set<string>();
  const nodeOf = new Map<string, string>();
  let most = 0;
  let deletions = 0;
  for (const line of watch.stdout().trim().split('\n')) {
    const [name, node, deleting] = line.trim().split(/\s+/) as [string, string, string];
    if (node !== '<none>') nodeOf.set(name, node);
    if (deleting === '<none>') {
      live.add(name);
      most = Math.max(most, live.size);
      continue;
    }
    if (!live.delete(name)) continue;
    deletions++;
    const beside = [...live].filter((q) => nodeOf.get(q) === nodeOf.get(name));
    assert.equal(beside.length, 1, `${name} went before its replacement on ${nodeOf.get(name)} was there:\n${watch.stdout()}`);
  }
  assert.equal(deletions, nodes.length, watch.stdout());
  assert.ok(most > nodes.length, `a new pod ran beside an old one:\n${watch.stdout()}`);
  // Each old pod deleted once: a second deletion of a terminating pod (no watch event confirms
  // it) once held the controller's expectations until the pod was gone.
  const events = JSON.parse(await kubectlOk(server, v, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.name=surge,reason=SuccessfulDelete', '-o', 'json'])) as { items: { message: string; count?: number }[] };
  assert.equal(events.items.reduce((n, e) => n + (e.count ?? 1), 0), nodes.length, JSON.stringify(events.items.map((e) => [e.message, e.count])));
});

test('OnDelete replaces only the pods the user deletes', async () => {
  const ns = 'ds-ondelete';
  await namespace(ns);
  await apply(ns, 'od', { strategy: { type: 'OnDelete' } });
  await settled(ns, 'od', nodes);
  const r = await kubectl(server, v, ['-n', ns, 'rollout', 'status', 'daemonset/od']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /rollout status is only available for RollingUpdate strategy type/);

  await kubectlOk(server, v, ['-n', ns, 'set', 'image', 'daemonset/od', `c=${image('3.10')}`]);
  await until('the update observed with no pod replaced', async () => {
    const ds = await getDs(ns, 'od');
    const st = ds.status;
    return st?.observedGeneration === ds.metadata.generation && (st?.updatedNumberScheduled ?? 0) === 0 && st?.numberAvailable === 3;
  });
  const old = await podsOf(ns, 'od');
  const victim = old.find((p) => p.spec?.nodeName === 'virtual-node-1')!;
  await kubectlOk(server, v, ['-n', ns, 'delete', 'pod', victim.metadata.name!]);
  let now: Record<string, string> | undefined;
  await until('a new pod on virtual-node-1 only', async () => {
    now = await placed(ns, 'od');
    return now?.['virtual-node-1'] === image('3.10') && Object.keys(now).length === 3;
  }, { timeoutMs: 30_000, detail: () => JSON.stringify(now) });
  assert.equal(now!['virtual-node-0'], image('3.9'));
  assert.equal(now!['virtual-node-2'], image('3.9'));
  assert.equal((await getDs(ns, 'od')).status?.updatedNumberScheduled, 1);
});

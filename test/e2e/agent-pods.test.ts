/**
 * The node agent runs real pods through containerd, driven with kubectl 1.27 and 1.33: node
 * registration, `kubectl run` to Ready, a Deployment whose pods reach each other, sidecars with a
 * shared emptyDir, restarts and CrashLoopBackOff, OOMKilled, configMap volumes and fieldRef env,
 * liveness and readiness probes, graceful deletion with preStop. The tests whose pods only wait on
 * the agent's periods run concurrently (one suite, four at a time); the rest one after another.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import type { Node, Pod } from '../../src/api/index.ts';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, waitForServiceAccount, type ServerHandle, getPod, isPodReady } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
let server!: ServerHandle;
if (!skip) useServer({ agent: true }, (s) => (server = s));

const newest = kubectlVersions.at(-1)!;
const oldest = kubectlVersions[0]!;

async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk(server, newest, [...args, '-o', 'json'])) as T;
}

const pod = (name: string) => getPod(server, name);
const ready = isPodReady;

async function waitReady(name: string, timeoutMs = 60_000): Promise<Pod> {
  return until(`pod ${name} Ready`, async () => {
    const p = await pod(name);
    return ready(p) ? p : undefined;
  }, { timeoutMs, detail: () => server.output().slice(-3000) });
}

async function apply(manifest: unknown): Promise<string> {
  // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'default');
  return kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify(manifest) });
}

test('the node registers Ready with the machine’s CPUs, its pod CIDR, addresses and images', { skip }, async () => {
  const nodes = await until('a Ready node', async () => {
    const list = await getJson<{ items: Node[] }>(['get', 'nodes']);
    return list.items.find((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  });
  assert.equal(nodes.status?.capacity?.['cpu'], String(os.availableParallelism()));
  assert.equal(nodes.spec?.podCIDR, '10.42.0.0/24');
  assert.deepEqual(nodes.status?.addresses?.[0], { type: 'InternalIP', address: '10.42.0.1' });
  assert.match(nodes.status?.nodeInfo?.containerRuntimeVersion ?? '', /^containerd:\/\//);
  assert.ok(nodes.status?.images?.some((i) => i.names?.includes('docker.io/library/busybox:1.36')), 'busybox listed in node images');
  for (const type of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) assert.ok(nodes.status?.conditions?.some((c) => c.type === type && c.status === 'False'), type);
  const lease = await getJson<{ spec: { holderIdentity: string } }>(['get', 'lease', '-n', 'kube-node-lease', nodes.metadata.name!]);
  assert.equal(lease.spec.holderIdentity, nodes.metadata.name);
});

for (const v of kubectlVersions) {
  test(`kubectl ${v} run starts a pod that becomes Ready with an IP from the node's range`, { skip }, async () => {
    const name = `run-${v}`;
    await waitForServiceAccount(server, 'default');
    await kubectlOk(server, v, ['run', name, `--image=${busyboxImage}`, '--', 'sleep', '3600']);
    const p = await waitReady(name);
    assert.equal(p.status?.phase, 'Running');
    assert.match(p.status?.podIP ?? '', /^10\.42\.0\.\d+$/);
    assert.equal(p.status?.hostIP, '10.42.0.1');
    const cs = p.status?.containerStatuses?.[0];
    assert.equal(cs?.image, 'docker.io/library/busybox:1.36');
    assert.match(cs?.containerID ?? '', /^containerd:\/\/[0-9a-f]{64}$/);
    assert.match(cs?.imageID ?? '', /sha256:[0-9a-f]{64}/);
    assert.equal(cs?.started, true);
    assert.equal(cs?.restartCount, 0);
    assert.deepEqual(p.status?.conditions?.map((c) => c.type), ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']);
    const wide = await kubectlOk(server, v, ['get', 'pod', name, '-o', 'wide']);
    assert.match(wide, new RegExp(`${name}\\s+1/1\\s+Running\\s+0`));
    await kubectlOk(server, v, ['delete', 'pod', name, '--grace-period=1', '--wait=true', '--timeout=60s']);
  });
}

test('a Deployment of busybox httpd rolls out 3 pods with distinct IPs that reach each other over HTTP', { skip }, async () => {
  await apply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web-app' },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'httpd',
              image: busyboxImage,
              command: ['sh', '-c', 'mkdir -p /www && echo "hello from $HOSTNAME" > /www/index.html && exec httpd -f -p 8080 -h /www'],
              ports: [{ containerPort: 8080 }],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  });
  await kubectlOk(server, newest, ['rollout', 'status', 'deployment/web-app', '--timeout=120s']);
  const list = await getJson<{ items: Pod[] }>(['get', 'pods', '-l', 'app=web']);
  const ips = list.items.map((p) => p.status?.podIP);
  assert.equal(new Set(ips).size, 3, `distinct IPs: ${ips}`);
  const [a, b] = list.items;
  const out = await kubectlOk(server, newest, ['exec', a!.metadata.name!, '--', 'timeout', '5', 'wget', '-q', '-O', '-', `http://${b!.status?.podIP}:8080/`]);
  assert.equal(out.trim(), `hello from ${b!.metadata.name}`);
  await kubectlOk(server, newest, ['delete', 'deployment', 'web-app']);
});

// Pods that mostly wait on the agent's periods (probes, back-off, the eviction and volume
// checks): each has its own names, none depends on what the node holds, so they run side by side.
describe('pods on the node agent, side by side', { skip, concurrency: 4 }, () => {
  test('a sidecar shares an emptyDir with the main container', { skip }, async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'sidecar' },
      spec: {
        volumes: [{ name: 'shared', emptyDir: {} }],
        initContainers: [{ name: 'writer', image: busyboxImage, restartPolicy: 'Always', command: ['sh', '-c', 'while true; do date > /data/now; echo tick >> /data/log; sleep 1; done'], volumeMounts: [{ name: 'shared', mountPath: '/data' }] }],
        containers: [{ name: 'main', image: busyboxImage, command: ['sh', '-c', 'sleep 3600'], volumeMounts: [{ name: 'shared', mountPath: '/data' }] }],
      },
    });
    const p = await waitReady('sidecar');
    assert.equal(p.status?.initContainerStatuses?.[0]?.started, true);
    assert.equal(p.status?.initContainerStatuses?.[0]?.ready, true);
    const out = await until('the sidecar wrote the shared file', async () => {
      const r = await kubectl(server, newest, ['exec', 'sidecar', '-c', 'main', '--', 'cat', '/data/log']);
      return r.code === 0 && r.stdout.includes('tick') ? r.stdout : undefined;
    });
    assert.match(out, /tick/);
    const wide = await kubectlOk(server, newest, ['get', 'pod', 'sidecar']);
    assert.match(wide, /sidecar\s+2\/2\s+Running/);
    await kubectlOk(server, newest, ['delete', 'pod', 'sidecar', '--grace-period=1']);
  });

  test('a crashing container restarts with back-off and shows CrashLoopBackOff', { skip }, async () => {
    await apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'crasher' }, spec: { containers: [{ name: 'c', image: busyboxImage, command: ['sh', '-c', 'echo crashing; exit 3'] }] } });
    const p = await until('CrashLoopBackOff with restarts', async () => {
      const p = await pod('crasher');
      const cs = p?.status?.containerStatuses?.[0];
      return cs?.state?.waiting?.reason === 'CrashLoopBackOff' && cs.restartCount >= 1 ? p : undefined;
    }, { timeoutMs: 60_000 });
    const cs = p.status!.containerStatuses![0]!;
    assert.equal(cs.lastState?.terminated?.exitCode, 3);
    assert.equal(cs.lastState?.terminated?.reason, 'Error');
    assert.match(cs.state?.waiting?.message ?? '', /^back-off \d+s restarting failed container=c pod=crasher_default\(/);
    assert.equal(p.status?.phase, 'Running');
    const prev = await kubectlOk(server, newest, ['logs', 'crasher', '--previous']);
    assert.equal(prev, 'crashing\n');
    const events = await kubectlOk(server, newest, ['get', 'events', '--field-selector', 'involvedObject.name=crasher']);
    assert.match(events, /BackOff|Started/);
    await kubectlOk(server, newest, ['delete', 'pod', 'crasher', '--grace-period=0', '--force']);
  });

  test('a container over its 32Mi memory limit is OOMKilled', { skip }, async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'oom' },
      spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: busyboxImage, command: ['sh', '-c', 'tail /dev/zero'], resources: { limits: { memory: '32Mi' } } }] },
    });
    const p = await until('OOMKilled', async () => {
      const p = await pod('oom');
      return p?.status?.containerStatuses?.[0]?.state?.terminated ? p : undefined;
    }, { timeoutMs: 60_000 });
    const t = p.status!.containerStatuses![0]!.state!.terminated!;
    assert.equal(t.reason, 'OOMKilled');
    assert.equal(t.exitCode, 137);
    assert.equal(p.status?.phase, 'Failed');
    await kubectlOk(server, newest, ['delete', 'pod', 'oom']);
  });

  test('a configMap volume and fieldRef env reach the container; configMap updates propagate', { skip }, async () => {
    await kubectlOk(server, newest, ['create', 'configmap', 'app-config', '--from-literal=greeting=hello']);
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'cfg', labels: { tier: 'front' } },
      spec: {
        volumes: [{ name: 'cfg', configMap: { name: 'app-config' } }],
        containers: [
          {
            name: 'c',
            image: busyboxImage,
            command: ['sh', '-c', 'sleep 3600'],
            env: [
              { name: 'MY_POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
              { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'greeting' } } },
              { name: 'MSG', value: '$(GREETING) from $(MY_POD)' },
            ],
            volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }],
          },
        ],
      },
    });
    const p = await waitReady('cfg');
    const env = await kubectlOk(server, newest, ['exec', 'cfg', '--', 'env']);
    assert.match(env, /^MY_POD=cfg$/m);
    assert.match(env, new RegExp(`^MY_IP=${p.status!.podIP!.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(env, /^MSG=hello from cfg$/m);
    assert.equal(await kubectlOk(server, newest, ['exec', 'cfg', '--', 'cat', '/etc/cfg/greeting']), 'hello');
    await kubectlOk(server, newest, ['create', 'configmap', 'app-config', '--from-literal=greeting=bonjour', '--dry-run=client', '-o', 'yaml'], {}).then((y) => kubectlOk(server, newest, ['apply', '-f', '-'], { input: y }));
    await until('the configMap update in the volume', async () => (await kubectl(server, newest, ['exec', 'cfg', '--', 'cat', '/etc/cfg/greeting'])).stdout === 'bonjour', { timeoutMs: 60_000 });
    await kubectlOk(server, newest, ['delete', 'pod', 'cfg', '--grace-period=1']);
  });

  test('a failing liveness probe restarts the container', { skip }, async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'liveness' },
      spec: {
        containers: [
          {
            name: 'c',
            image: busyboxImage,
            command: ['sh', '-c', 'touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 3600'],
            livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 1 },
          },
        ],
        terminationGracePeriodSeconds: 1,
      },
    });
    await until('a restart after liveness failures', async () => ((await pod('liveness'))?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1, { timeoutMs: 60_000 });
    const events = await kubectlOk(server, newest, ['get', 'events', '--field-selector', 'involvedObject.name=liveness', '-o', 'json']);
    assert.match(events, /Liveness probe failed/);
    assert.match(events, /failed liveness probe, will be restarted/);
    await kubectlOk(server, newest, ['delete', 'pod', 'liveness', '--grace-period=0', '--force']);
  });

  test('an httpGet readiness probe gates Ready', { skip }, async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'readiness' },
      spec: {
        containers: [
          {
            name: 'c',
            image: busyboxImage,
            command: ['sh', '-c', 'mkdir -p /www && exec httpd -f -p 8080 -h /www'],
            readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 },
          },
        ],
      },
    });
    await until('running', async () => (await pod('readiness'))?.status?.containerStatuses?.[0]?.state?.running, { timeoutMs: 30_000, detail: () => server.output().slice(-3000) });
    await new Promise((r) => setTimeout(r, 2500));
    let p = await pod('readiness');
    assert.equal(p?.status?.containerStatuses?.[0]?.ready, false);
    assert.equal(p?.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
    await kubectlOk(server, newest, ['exec', 'readiness', '--', 'sh', '-c', 'echo ok > /www/ready']);
    p = await waitReady('readiness', 30_000);
    assert.equal(p.status?.containerStatuses?.[0]?.ready, true);
    await kubectlOk(server, newest, ['delete', 'pod', 'readiness', '--grace-period=1']);
  });

  test('an emptyDir over its sizeLimit gets the pod evicted', { skip }, async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'filler' },
      spec: {
        terminationGracePeriodSeconds: 1,
        volumes: [{ name: 'scratch', emptyDir: { sizeLimit: '1Mi' } }],
        containers: [{ name: 'c', image: busyboxImage, command: ['sh', '-c', 'dd if=/dev/zero of=/scratch/big bs=1024 count=2048; sleep 3600'], volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] }],
      },
    });
    const p = await until('filler evicted', async () => {
      const p = await pod('filler');
      return p?.status?.phase === 'Failed' ? p : undefined;
    }, { timeoutMs: 60_000 });
    assert.equal(p.status?.reason, 'Evicted');
    assert.match(p.status?.message ?? '', /^Usage of EmptyDir volume "scratch" exceeds the limit "1Mi"/);
    assert.ok(p.status?.containerStatuses?.[0]?.state?.terminated, 'its container stopped');
    await kubectlOk(server, newest, ['delete', 'pod', 'filler']);
  });

  test('termination messages come from the termination-log file, or the log tail on error', { skip }, async () => {
    const manifest = (name: string, command: string, policy?: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: busyboxImage, command: ['sh', '-c', command], ...(policy ? { terminationMessagePolicy: policy } : {}) }] },
    });
    await apply(manifest('term-file', 'echo -n bye > /dev/termination-log; exit 0'));
    await apply(manifest('term-logs', 'echo first; echo oops; exit 1', 'FallbackToLogsOnError'));
    const terminated = (name: string) =>
      until(`${name} terminated`, async () => {
        const t = (await pod(name))?.status?.containerStatuses?.[0]?.state?.terminated;
        return t?.message !== undefined ? t : undefined;
      }, { timeoutMs: 60_000 });
    assert.equal((await terminated('term-file')).message, 'bye');
    const t = await terminated('term-logs');
    assert.equal(t.exitCode, 1);
    assert.equal(t.message, 'first\noops\n');
    await kubectlOk(server, newest, ['delete', 'pod', 'term-file', 'term-logs']);
  });
});

test(`kubectl ${oldest} delete waits for the preStop hook and the grace period`, { skip }, async () => {
  await apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'graceful' },
    spec: {
      terminationGracePeriodSeconds: 20,
      volumes: [{ name: 'host', hostPath: { path: `${server.dataDir}/prestop`, type: 'DirectoryOrCreate' } }],
      containers: [
        {
          name: 'c',
          image: busyboxImage,
          command: ['sh', '-c', 'trap "echo term >> /host/log; exit 0" TERM; while true; do sleep 0.2; done'],
          volumeMounts: [{ name: 'host', mountPath: '/host' }],
          lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop >> /host/log; sleep 1'] } } },
        },
      ],
    },
  });
  await waitReady('graceful');
  const started = Date.now();
  await kubectlOk(server, oldest, ['delete', 'pod', 'graceful', '--wait=true', '--timeout=60s']);
  const took = Date.now() - started;
  assert.ok(took >= 1000, `deletion waited for the hook (${took} ms)`);
  const { readFile } = await import('node:fs/promises');
  assert.equal(await readFile(`${server.dataDir}/prestop/log`, 'utf8'), 'prestop\nterm\n');
  assert.equal(await pod('graceful'), undefined);
});

test('pods that do not fit the node are rejected by the agent with upstream’s reasons', { skip }, async () => {
  const node = (await kubectlOk(server, newest, ['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
  await apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'too-big' }, spec: { nodeName: node, containers: [{ name: 'c', image: busyboxImage, resources: { requests: { cpu: '1000' } } }] } });
  await apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'wrong-node' }, spec: { nodeName: node, nodeSelector: { disk: 'ssd' }, containers: [{ name: 'c', image: busyboxImage }] } });
  const big = await until('too-big Failed', async () => {
    const p = await pod('too-big');
    return p?.status?.phase === 'Failed' ? p : undefined;
  });
  assert.equal(big.status?.reason, 'OutOfcpu');
  assert.match(big.status?.message ?? '', /^Pod was rejected: Node didn't have enough resource: cpu, requested: 1000000, used: \d+, capacity: \d+$/);
  const wrong = await until('wrong-node Failed', async () => {
    const p = await pod('wrong-node');
    return p?.status?.phase === 'Failed' ? p : undefined;
  });
  assert.equal(wrong.status?.reason, 'NodeAffinity');
  await kubectlOk(server, newest, ['delete', 'pod', 'too-big', 'wrong-node']);
});

test('bin/bosun images import adds an image to the running node', { skip }, async () => {
  const { buildBusyboxImage } = await import('../../src/kubelet/images/index.ts');
  const { mkdtemp } = await import('node:fs/promises');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { bosunBin } = await import('./harness.ts');
  const file = `${await mkdtemp('/tmp/bosun-import-')}/extra.tar`;
  await buildBusyboxImage(file, 'docker.io/library/extra:1');
  const { stdout } = await promisify(execFile)(bosunBin, ['images', 'import', '--data-dir', server.dataDir, file]);
  assert.match(stdout, /imported/);
  await apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'imported' }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'extra:1', imagePullPolicy: 'Never', command: ['sleep', '3600'] }] } });
  await waitReady('imported');
  await kubectlOk(server, newest, ['delete', 'pod', 'imported']);
});

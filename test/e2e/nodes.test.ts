/**
 * Issue 4 end to end: node lifecycle. A `bosun controller-manager` (short grace period) watches a
 * node whose "kubelet" (the test) renews its Lease in kube-node-lease. While it does, the node
 * stays Ready and untainted; when it stops, the node's Ready turns Unknown, it gets the
 * unreachable taints, its pods are marked not ready, and a pod tolerating the taint for 2 s is
 * evicted (deleted gracefully) after that time while one tolerating it forever stays; once
 * heartbeats come back, the taints go away.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { ensureServiceAccount, startServer, bosunBin, until as waitUntil, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig, request, type Creds } from './api.ts';

let server: ServerHandle;
let creds: Creds;
let manager: ChildProcess;
let managerOut = '';

/** Waits as the harness does, showing the controller manager's output on a timeout. */
const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>) => waitUntil(what, fn, { detail: () => managerOut });

const microTime = () => new Date().toISOString().replace(/Z$/, '000Z');

async function call(method: string, path: string, body?: unknown, type = 'application/json') {
  const r = await request(creds, method, path, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': type } });
  return { status: r.status, json: () => JSON.parse(r.body) };
}


before(async () => {
  // The test places and runs pods itself: no scheduler, and only the controllers it starts.
  server = await startServer({ args: ['--disable-controller-manager', '--disable-scheduler'] });
  creds = credsFromKubeconfig(server.kubeconfig);
  // No serviceaccount controller: pods need their account made by hand.
  await ensureServiceAccount(server, 'default');
  manager = spawn(bosunBin, ['controller-manager', '--kubeconfig', server.kubeconfig, '--controllers', 'nodelifecycle,podgc', '--node-monitor-grace-period', '2s', '--node-monitor-period', '500ms'], { stdio: ['ignore', 'pipe', 'pipe'] });
  manager.stdout!.on('data', (d: Buffer) => (managerOut += d.toString()));
  manager.stderr!.on('data', (d: Buffer) => (managerOut += d.toString()));
});

after(async () => {
  manager?.kill('SIGTERM');
  await server?.stop();
});

describe('node lifecycle', () => {
  let renewing = true;
  let timer: NodeJS.Timeout | undefined;

  test('a node without heartbeats goes Unknown and tainted, its pods are evicted per toleration, and it recovers', async () => {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    assert.equal((await call('POST', '/api/v1/nodes', { metadata: { name: 'n1' } })).status, 201);
    const ready = (status: string) => ({ status: { conditions: [{ type: 'Ready', status, reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }] } });
    assert.equal((await call('PATCH', '/api/v1/nodes/n1/status', ready('True'), 'application/merge-patch+json')).status, 200);
    assert.equal((await call('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { metadata: { name: 'n1' }, spec: { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: microTime() } })).status, 201);
    let stopped = false;
    const renew = async () => {
      if (stopped) return;
      if (renewing) await call('PATCH', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1', { spec: { renewTime: microTime() } }, 'application/merge-patch+json').catch(() => {});
      timer = setTimeout(() => void renew(), 300);
    };
    after(() => {
      stopped = true;
      clearTimeout(timer);
    });
    void renew();

    const pod = (name: string, tolerationSeconds?: number) => ({
      metadata: { name },
      spec: {
        nodeName: 'n1',
        containers: [{ name: 'c', image: 'busybox' }],
        tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', ...(tolerationSeconds === undefined ? {} : { tolerationSeconds }) }],
      },
    });
    assert.equal((await call('POST', '/api/v1/namespaces/default/pods', pod('short', 2))).status, 201);
    assert.equal((await call('POST', '/api/v1/namespaces/default/pods', pod('forever'))).status, 201);
    for (const p of ['short', 'forever']) {
      await call('PATCH', `/api/v1/namespaces/default/pods/${p}/status`, { status: { phase: 'Running', podIP: '10.244.1.2', conditions: [{ type: 'Ready', status: 'True' }] } }, 'application/merge-patch+json');
    }

    // Heartbeats keep the node Ready and untainted past the grace period.
    await new Promise((r) => setTimeout(r, 3000));
    let node = (await call('GET', '/api/v1/nodes/n1')).json();
    assert.equal(node.status.conditions.find((c: { type: string }) => c.type === 'Ready').status, 'True');
    assert.equal(node.spec?.taints, undefined);

    renewing = false;
    const stoppedAt = Date.now();
    node = await until('the node to go Unknown and tainted', async () => {
      const n = (await call('GET', '/api/v1/nodes/n1')).json();
      const r = n.status.conditions.find((c: { type: string }) => c.type === 'Ready');
      return r.status === 'Unknown' && (n.spec?.taints ?? []).length === 2 ? n : null;
    });
    const r = node.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(r.reason, 'NodeStatusUnknown');
    assert.equal(r.message, 'Kubelet stopped posting node status.');
    assert.deepEqual(node.spec.taints.map((t: { key: string; effect: string }) => `${t.key}:${t.effect}`).sort(), ['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule']);
    const forever = (await call('GET', '/api/v1/namespaces/default/pods/forever')).json();
    assert.equal(forever.status.conditions.find((c: { type: string }) => c.type === 'Ready').status, 'False');

    // Eviction is a graceful delete: with no kubelet to finish it, the pod stays terminating.
    const evicted = async (name: string) => {
      const r = await call('GET', `/api/v1/namespaces/default/pods/${name}`);
      return r.status === 404 || Boolean(r.json().metadata.deletionTimestamp);
    };
    await until('the pod tolerating 2 s to be evicted', () => evicted('short'));
    // Grace period + tolerationSeconds, less the second-precision timeAdded and heartbeat spacing.
    assert.ok(Date.now() - stoppedAt >= 2000 + 2000 - 1500, 'evicted before grace period + tolerationSeconds');
    assert.equal(await evicted('forever'), false);

    // The kubelet comes back: Ready again, taints removed.
    renewing = true;
    await call('PATCH', '/api/v1/nodes/n1/status', ready('True'), 'application/merge-patch+json');
    await until('the taints to go', async () => ((await call('GET', '/api/v1/nodes/n1')).json().spec?.taints ?? []).length === 0);
  });
});

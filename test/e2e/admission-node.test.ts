/**
 * Admission for runtime classes and nodes, through kubectl against `bin/bosun server
 * --virtual-nodes 1`: RuntimeClass (an unknown class is refused with upstream's message; a
 * class's overhead, nodeSelector and tolerations land on the pod; a different overhead or a
 * conflicting selector is refused) and TaintNodesByCondition (a Node is created with the
 * not-ready NoSchedule taint, and the node lifecycle controller takes it off the Ready simulated
 * node, so pods can be scheduled there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from '../../src/api/index.ts';
import { kubectl, kubectlOk, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';

let server!: ServerHandle;
useServer({ args: ['--virtual-nodes', '1'] }, (s) => (server = s));
const v = '33';

const pod = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
});

test('a pod naming an unknown RuntimeClass is refused as upstream words it', async () => {
  await waitForServiceAccount(server, 'default');
  const r = await kubectl(server, v, ['create', '-f', '-'], { input: JSON.stringify(pod('rc-unknown', { runtimeClassName: 'nope' })) });
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim(), 'Error from server (Forbidden): error when creating "STDIN": pods "rc-unknown" is forbidden: pod rejected: RuntimeClass "nope" not found');
});

test('a RuntimeClass gives the pod its overhead, nodeSelector and tolerations; a different overhead or selector is refused', async () => {
  const rc = {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: 'sandboxed' },
    handler: 'runc',
    overhead: { podFixed: { cpu: '0.25', memory: '64Mi' } },
    scheduling: {
      nodeSelector: { 'kubernetes.io/hostname': 'virtual-node-0' },
      tolerations: [{ key: 'sandbox', operator: 'Exists', effect: 'NoSchedule' }],
    },
  };
  await kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(rc) });
  const own = { key: 'team', operator: 'Equal', value: 'a', effect: 'NoExecute' };
  await kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(pod('rc-pod', { runtimeClassName: 'sandboxed', nodeSelector: { disk: 'any' }, tolerations: [own] })) });
  const got = JSON.parse(await kubectlOk(server, v, ['get', 'pod', 'rc-pod', '-o', 'json'])) as Pod;
  assert.deepEqual(got.spec!.overhead, { cpu: '250m', memory: '64Mi' });
  assert.deepEqual(got.spec!.nodeSelector, { disk: 'any', 'kubernetes.io/hostname': 'virtual-node-0' });
  // The class's tolerations first, then the pod's own; DefaultTolerationSeconds adds its two.
  const tolerations = got.spec!.tolerations ?? [];
  assert.deepEqual(tolerations.slice(0, 2), [{ key: 'sandbox', operator: 'Exists', effect: 'NoSchedule' }, own]);

  // A class-conforming overhead set by hand is accepted; another one is refused.
  await kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(pod('rc-same', { runtimeClassName: 'sandboxed', overhead: { cpu: '250m', memory: '64Mi' } })) });
  const other = await kubectl(server, v, ['create', '-f', '-'], { input: JSON.stringify(pod('rc-other', { runtimeClassName: 'sandboxed', overhead: { cpu: '1' } })) });
  assert.equal(other.stderr.trim(), 'Error from server (Forbidden): error when creating "STDIN": pods "rc-other" is forbidden: pod rejected: Pod\'s Overhead doesn\'t match RuntimeClass\'s defined Overhead');
  const conflict = await kubectl(server, v, ['create', '-f', '-'], { input: JSON.stringify(pod('rc-conflict', { runtimeClassName: 'sandboxed', nodeSelector: { 'kubernetes.io/hostname': 'elsewhere' } })) });
  assert.equal(
    conflict.stderr.trim(),
    'Error from server (Forbidden): error when creating "STDIN": pods "rc-conflict" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[kubernetes.io/hostname] = virtual-node-0; pod.spec.nodeSelector[kubernetes.io/hostname] = elsewhere',
  );
});

test('the Ready simulated node loses the not-ready taint it was created with', async () => {
  // Pods cannot go there while it has it: a pod bound there shows that it is gone.
  await kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(pod('placed', { nodeSelector: { 'kubernetes.io/hostname': 'virtual-node-0' } })) });
  const nodeName = await until('placed to be scheduled', async () => (JSON.parse(await kubectlOk(server, v, ['get', 'pod', 'placed', '-o', 'json'])) as Pod).spec?.nodeName, { timeoutMs: 60_000 });
  assert.equal(nodeName, 'virtual-node-0');
  const node = JSON.parse(await kubectlOk(server, v, ['get', 'node', 'virtual-node-0', '-o', 'json'])) as Node;
  assert.deepEqual((node.spec?.taints ?? []).filter((t) => t.key === 'node.kubernetes.io/not-ready'), []);
});

test('a Node created with kubectl gets the not-ready NoSchedule taint', async () => {
  const created = JSON.parse(
    await kubectlOk(server, v, ['create', '-o', 'json', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'fresh' }, spec: { taints: [{ key: 'team', value: 'a', effect: 'NoSchedule' }] } }),
    }),
  ) as Node;
  assert.deepEqual(created.spec?.taints, [
    { key: 'team', value: 'a', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' },
  ]);
  // A node that already has it (any value) is created as it is.
  const own = JSON.parse(
    await kubectlOk(server, v, ['create', '-o', 'json', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'fresh-2' }, spec: { taints: [{ key: 'node.kubernetes.io/not-ready', value: 'x', effect: 'NoSchedule' }] } }),
    }),
  ) as Node;
  assert.deepEqual(own.spec?.taints, [{ key: 'node.kubernetes.io/not-ready', value: 'x', effect: 'NoSchedule' }]);
  await kubectlOk(server, v, ['delete', 'node', 'fresh', 'fresh-2']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../api/index.ts';
import type { ContainerStatus as CriContainerStatus } from './cri/types.ts';
import { computePodStatus, normalizeImage, type StatusInputs } from './status.ts';
import type { RuntimePod } from './kuberuntime.ts';

const ns = (iso: string) => String(BigInt(Date.parse(iso)) * 1_000_000n);

function cri(name: string, state: CriContainerStatus['state'], opts: { exit?: number; attempt?: number; restarts?: number; reason?: string; created?: string } = {}): CriContainerStatus {
  return {
    id: `${name}-${opts.attempt ?? 0}`.padEnd(64, '0'),
    metadata: { name, attempt: opts.attempt ?? 0 },
    state,
    created_at: ns(opts.created ?? `2026-01-01T00:00:0${opts.attempt ?? 0}Z`),
    started_at: ns('2026-01-01T00:00:01Z'),
    finished_at: state === 'CONTAINER_EXITED' ? ns('2026-01-01T00:00:02Z') : '0',
    exit_code: opts.exit ?? 0,
    image: { image: 'docker.io/library/busybox:1.36' },
    image_ref: 'sha256:abc',
    reason: opts.reason ?? '',
    message: '',
    labels: {},
    annotations: { 'io.kubernetes.container.restartCount': String(opts.restarts ?? 0) },
    log_path: '',
  } as unknown as CriContainerStatus;
}

function pod(spec: Partial<NonNullable<Pod['spec']>>): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }], ...spec }, status: { qosClass: 'BestEffort' } } as Pod;
}

function inputs(p: Pod, containers: CriContainerStatus[], extra: Partial<StatusInputs> = {}): StatusInputs {
  const runtime: RuntimePod = { uid: 'u1', namespace: 'default', name: 'p', sandboxes: [], containers: [...containers].sort((a, b) => Number(BigInt(b.created_at) - BigInt(a.created_at))) };
  return { pod: p, runtime, podIPs: ['10.42.0.5'], hostIPs: ['10.42.0.1'], sandboxReady: true, waiting: new Map(), ready: new Map(), started: new Map(), startTime: '2026-01-01T00:00:00Z', now: '2026-01-01T00:00:05Z', ...extra };
}

const cases: Array<{ name: string; pod: Pod; containers: CriContainerStatus[]; extra?: Partial<StatusInputs>; phase: string; ready: string; state?: string }> = [
  { name: 'a running container makes the pod Running and Ready', pod: pod({}), containers: [cri('c', 'CONTAINER_RUNNING')], phase: 'Running', ready: 'True', state: 'running' },
  { name: 'nothing created yet is Pending with ContainerCreating', pod: pod({}), containers: [], phase: 'Pending', ready: 'False', state: 'waiting:ContainerCreating' },
  { name: 'a container that exited 0 under Never is Succeeded', pod: pod({ restartPolicy: 'Never' }), containers: [cri('c', 'CONTAINER_EXITED')], phase: 'Succeeded', ready: 'False', state: 'terminated:Completed' },
  { name: 'a container that exited 1 under Never is Failed', pod: pod({ restartPolicy: 'Never' }), containers: [cri('c', 'CONTAINER_EXITED', { exit: 1 })], phase: 'Failed', ready: 'False', state: 'terminated:Error' },
  { name: 'an exited container under Always stays Running', pod: pod({}), containers: [cri('c', 'CONTAINER_EXITED', { exit: 1 })], phase: 'Running', ready: 'False', state: 'terminated:Error' },
  { name: 'a deleted pod the kubelet stopped ends Failed under OnFailure (podIsTerminal)', pod: pod({ restartPolicy: 'OnFailure' }), containers: [cri('c', 'CONTAINER_EXITED', { exit: 143 })], extra: { podIsTerminal: true }, phase: 'Failed', ready: 'False', state: 'terminated:Error' },
  { name: 'a deleted pod whose containers all exited 0 ends Succeeded even under Always', pod: pod({}), containers: [cri('c', 'CONTAINER_EXITED')], extra: { podIsTerminal: true }, phase: 'Succeeded', ready: 'False', state: 'terminated:Completed' },
  {
    name: 'back-off shows CrashLoopBackOff with the last termination',
    pod: pod({}),
    containers: [cri('c', 'CONTAINER_EXITED', { exit: 3, restarts: 2 })],
    extra: { waiting: new Map([['c', { reason: 'CrashLoopBackOff', message: 'back-off 20s' }]]) },
    phase: 'Running',
    ready: 'False',
    state: 'waiting:CrashLoopBackOff',
  },
  { name: 'an OOM kill is reported with the runtime reason', pod: pod({ restartPolicy: 'Never' }), containers: [cri('c', 'CONTAINER_EXITED', { exit: 137, reason: 'OOMKilled' })], phase: 'Failed', ready: 'False', state: 'terminated:OOMKilled' },
  { name: 'an unready readiness probe keeps Ready False', pod: pod({}), containers: [cri('c', 'CONTAINER_RUNNING')], extra: { ready: new Map([['c', false]]) }, phase: 'Running', ready: 'False', state: 'running' },
  {
    name: 'a running init container keeps the pod Pending and its containers PodInitializing',
    pod: pod({ initContainers: [{ name: 'init', image: 'busybox:1.36' }] }),
    containers: [cri('init', 'CONTAINER_RUNNING')],
    phase: 'Pending',
    ready: 'False',
    state: 'waiting:PodInitializing',
  },
  {
    name: 'a failed init container under Never fails the pod',
    pod: pod({ restartPolicy: 'Never', initContainers: [{ name: 'init', image: 'busybox:1.36' }] }),
    containers: [cri('init', 'CONTAINER_EXITED', { exit: 1 })],
    phase: 'Failed',
    ready: 'False',
    state: 'waiting:PodInitializing',
  },
  {
    name: 'a started sidecar and a running container: Running and Ready',
    pod: pod({ initContainers: [{ name: 'side', image: 'busybox:1.36', restartPolicy: 'Always' }] }),
    containers: [cri('side', 'CONTAINER_RUNNING'), cri('c', 'CONTAINER_RUNNING')],
    phase: 'Running',
    ready: 'True',
    state: 'running',
  },
];

for (const c of cases) {
  test(c.name, () => {
    const st = computePodStatus(inputs(c.pod, c.containers, c.extra));
    assert.equal(st.phase, c.phase);
    assert.equal(st.conditions?.find((x) => x.type === 'Ready')?.status, c.ready);
    const cs = st.containerStatuses![0]!;
    const s = cs.state!;
    const got = s.running ? 'running' : s.waiting ? `waiting:${s.waiting.reason}` : `terminated:${s.terminated!.reason}`;
    if (c.state) assert.equal(got, c.state);
  });
}

test('restart count, ids, last state and the condition order are upstream’s', () => {
  const st = computePodStatus(inputs(pod({}), [cri('c', 'CONTAINER_EXITED', { exit: 2, attempt: 0 }), cri('c', 'CONTAINER_RUNNING', { attempt: 1, restarts: 1 })]));
  const cs = st.containerStatuses![0]!;
  assert.equal(cs.restartCount, 1);
  assert.equal(cs.lastState?.terminated?.exitCode, 2);
  assert.match(cs.containerID!, /^containerd:\/\/c-1/);
  assert.equal(cs.image, 'docker.io/library/busybox:1.36');
  assert.deepEqual(st.conditions!.map((x) => x.type), ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady']);
  assert.equal(st.podIP, '10.42.0.5');
  assert.deepEqual(st.hostIPs, [{ ip: '10.42.0.1' }]);
});

test('a condition keeps its transition time while its status holds', () => {
  const p = pod({});
  p.status!.conditions = [{ type: 'Ready', status: 'True', lastTransitionTime: '2025-01-01T00:00:00Z' }];
  const st = computePodStatus(inputs(p, [cri('c', 'CONTAINER_RUNNING')]));
  assert.equal(st.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime, '2025-01-01T00:00:00Z');
});

const images: Array<[string, string]> = [
  ['busybox', 'docker.io/library/busybox:latest'],
  ['busybox:1.36', 'docker.io/library/busybox:1.36'],
  ['team/app:v1', 'docker.io/team/app:v1'],
  ['registry.bosun.test/team/app:v1', 'registry.bosun.test/team/app:v1'],
  ['localhost:5000/app', 'localhost:5000/app:latest'],
  ['busybox@sha256:abc', 'docker.io/library/busybox@sha256:abc'],
];
for (const [input, want] of images) test(`image ${input} normalizes to ${want}`, () => assert.equal(normalizeImage(input), want));

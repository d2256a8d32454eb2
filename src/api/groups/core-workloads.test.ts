import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../types.ts';
import { pods, podTemplates, replicationControllers } from './core-workloads.ts';
import { create, make, oneHourLater, summary, update, type TestObject } from './core-testing.ts';

const pod = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}, meta: KubeObject['metadata'] = {}) => make(pods, { spec, ...extra }, meta);
const web = { name: 'web', image: 'nginx' };

// ---- defaulting ------------------------------------------------------------------------------------

const minimalPodSpec = {
  containers: [
    {
      name: 'web',
      image: 'nginx',
      imagePullPolicy: 'Always',
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      resources: {},
    },
  ],
  enableServiceLinks: true,
  dnsPolicy: 'ClusterFirst',
  restartPolicy: 'Always',
  securityContext: {},
  terminationGracePeriodSeconds: 30,
  schedulerName: 'default-scheduler',
};

test('a minimal pod gets the defaults upstream shows and a Pending BestEffort status', () => {
  const { obj, causes } = create(pods, pod({ containers: [web] }));
  assert.deepEqual(obj.spec, minimalPodSpec);
  assert.deepEqual(obj.status, { phase: 'Pending', qosClass: 'BestEffort' });
  assert.deepEqual(summary(causes), []);
});

const containerDefaultCases: { name: string; in: Record<string, unknown>; want: Record<string, unknown> }[] = [
  { name: 'a tagged image is pulled if not present', in: { image: 'nginx:1.27' }, want: { imagePullPolicy: 'IfNotPresent' } },
  { name: 'the latest tag is always pulled', in: { image: 'registry.local:5000/team/app:latest' }, want: { imagePullPolicy: 'Always' } },
  { name: 'an untagged image on a registry with a port is always pulled', in: { image: 'registry.local:5000/app' }, want: { imagePullPolicy: 'Always' } },
  {
    name: 'a digest-only image is pulled if not present',
    in: { image: 'nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' },
    want: { imagePullPolicy: 'IfNotPresent' },
  },
  { name: 'an explicit pull policy is kept', in: { image: 'nginx', imagePullPolicy: 'Never' }, want: { imagePullPolicy: 'Never' } },
  { name: 'ports default to TCP', in: { ports: [{ containerPort: 80 }] }, want: { ports: [{ containerPort: 80, protocol: 'TCP' }] } },
  {
    name: 'probes get their timing defaults and HTTP gets path and scheme',
    in: { readinessProbe: { httpGet: { port: 8080 } } },
    want: { readinessProbe: { httpGet: { port: 8080, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 } },
  },
  {
    name: 'a gRPC probe gets an empty service',
    in: { livenessProbe: { grpc: { port: 9000 } } },
    want: { livenessProbe: { grpc: { port: 9000, service: '' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 } },
  },
  {
    name: 'a downward API env var gets apiVersion v1',
    in: { env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }] },
    want: { env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName', apiVersion: 'v1' } } }] },
  },
  {
    name: 'requests default to limits and quantities print canonically',
    in: { resources: { limits: { cpu: '0.5', memory: '1024Mi' }, requests: { cpu: '100m' } } },
    want: { resources: { limits: { cpu: '500m', memory: '1Gi' }, requests: { cpu: '100m', memory: '1Gi' } } },
  },
  { name: 'quantities finer than a milli unit round up', in: { resources: { requests: { cpu: '100u' } } }, want: { resources: { requests: { cpu: '1m' } } } },
];
for (const c of containerDefaultCases) {
  test(c.name, () => {
    const { obj } = create(pods, pod({ containers: [{ ...web, ...c.in }] }));
    const got = obj.spec.containers[0];
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got[k], v, k);
  });
}

const volumeDefaultCases: { name: string; in: Record<string, unknown>; want: Record<string, unknown> }[] = [
  { name: 'a volume without a source is an emptyDir', in: { name: 'v' }, want: { name: 'v', emptyDir: {} } },
  { name: 'configMap volumes get mode 0644', in: { name: 'v', configMap: { name: 'cm' } }, want: { name: 'v', configMap: { name: 'cm', defaultMode: 420 } } },
  { name: 'secret volumes get mode 0644', in: { name: 'v', secret: { secretName: 's' } }, want: { name: 'v', secret: { secretName: 's', defaultMode: 420 } } },
  { name: 'hostPath volumes get an empty type', in: { name: 'v', hostPath: { path: '/data' } }, want: { name: 'v', hostPath: { path: '/data', type: '' } } },
  {
    name: 'projected token sources get an hour of expiry',
    in: { name: 'v', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
    want: { name: 'v', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }], defaultMode: 420 } },
  },
];
for (const c of volumeDefaultCases) {
  test(c.name, () => {
    const { obj } = create(pods, pod({ containers: [web], volumes: [c.in] }));
    assert.deepEqual(obj.spec.volumes[0], c.want);
  });
}

test('serviceAccountName is mirrored into the deprecated serviceAccount, and the other way round', () => {
  assert.equal(create(pods, pod({ containers: [web], serviceAccountName: 'builder' })).obj.spec.serviceAccount, 'builder');
  assert.equal(create(pods, pod({ containers: [web], serviceAccount: 'old' })).obj.spec.serviceAccountName, 'old');
});

test('host-network pods publish their container ports on the host', () => {
  const { obj } = create(pods, pod({ hostNetwork: true, containers: [{ ...web, ports: [{ containerPort: 8080 }] }] }));
  assert.deepEqual(obj.spec.containers[0].ports, [{ containerPort: 8080, protocol: 'TCP', hostPort: 8080 }]);
});

test('defaulting a pod twice changes nothing more', () => {
  const { obj } = create(pods, pod({ containers: [{ ...web, resources: { limits: { cpu: '1' } } }], volumes: [{ name: 'v' }] }));
  const again = structuredClone(obj);
  pods.default!(again);
  assert.deepEqual(again, obj);
});

test('fields of features off by default in 1.33 are dropped on create', () => {
  const { obj } = create(pods, pod({ containers: [{ ...web, lifecycle: { stopSignal: 'SIGUSR1' } }], resources: { limits: { cpu: '1' } } }));
  assert.equal(obj.spec.resources, undefined);
  assert.deepEqual(obj.spec.containers[0].lifecycle, {});
});

// ---- status on create: QoS and gates -------------------------------------------------------------------

const qosCases: { name: string; resources: Record<string, unknown>[]; want: string }[] = [
  { name: 'no requests or limits is BestEffort', resources: [{}], want: 'BestEffort' },
  { name: 'cpu and memory limits everywhere are Guaranteed', resources: [{ limits: { cpu: '1', memory: '1Gi' } }], want: 'Guaranteed' },
  { name: 'a request without a limit is Burstable', resources: [{ requests: { cpu: '100m' } }], want: 'Burstable' },
  { name: 'requests below limits are Burstable', resources: [{ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m', memory: '1Gi' } }], want: 'Burstable' },
  { name: 'one container without limits makes the pod Burstable', resources: [{ limits: { cpu: '1', memory: '1Gi' } }, {}], want: 'Burstable' },
];
for (const c of qosCases) {
  test(c.name, () => {
    const containers = c.resources.map((r, i) => ({ name: `c${i}`, image: 'nginx', resources: r }));
    assert.equal(create(pods, pod({ containers })).obj.status.qosClass, c.want);
  });
}

test('a status sent with a new pod is replaced', () => {
  const { obj } = create(pods, pod({ containers: [web] }, { status: { phase: 'Running', podIP: '10.0.0.1' } }));
  assert.deepEqual(obj.status, { phase: 'Pending', qosClass: 'BestEffort' });
});

test('a pod with scheduling gates starts with the SchedulingGated condition', () => {
  const { obj } = create(pods, pod({ containers: [web], schedulingGates: [{ name: 'example.com/wait' }] }));
  assert.deepEqual(obj.status.conditions, [
    { type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', message: 'Scheduling is blocked due to non-empty scheduling gates' },
  ]);
});

// ---- validation ----------------------------------------------------------------------------------------

const podValidationCases: { name: string; spec: Record<string, unknown>; want: string[] }[] = [
  { name: 'a pod without containers is rejected', spec: { containers: [] }, want: ['spec.containers: FieldValueRequired'] },
  { name: 'a container needs an image', spec: { containers: [{ name: 'web' }] }, want: ['spec.containers[0].image: FieldValueRequired'] },
  { name: 'a container name must be a DNS label', spec: { containers: [{ name: 'Web_1', image: 'nginx' }] }, want: ['spec.containers[0].name: FieldValueInvalid'] },
  {
    name: 'container names are unique across init and regular containers',
    spec: { containers: [web], initContainers: [{ name: 'web', image: 'busybox' }] },
    want: ['spec.initContainers[0].name: FieldValueDuplicate'],
  },
  { name: 'a container port must be in range', spec: { containers: [{ ...web, ports: [{ containerPort: 70000 }] }] }, want: ['spec.containers[0].ports[0].containerPort: FieldValueInvalid'] },
  { name: 'a port protocol must be supported', spec: { containers: [{ ...web, ports: [{ containerPort: 80, protocol: 'HTTP' }] }] }, want: ['spec.containers[0].ports[0].protocol: FieldValueNotSupported'] },
  {
    name: 'port names are unique within a container',
    spec: { containers: [{ ...web, ports: [{ name: 'http', containerPort: 80 }, { name: 'http', containerPort: 81 }] }] },
    want: ['spec.containers[0].ports[1].name: FieldValueDuplicate'],
  },
  {
    name: 'requests may not exceed limits',
    spec: { containers: [{ ...web, resources: { limits: { cpu: '1' }, requests: { cpu: '2' } } }] },
    want: ['spec.containers[0].resources.requests: FieldValueInvalid'],
  },
  {
    name: 'a resource quantity must parse',
    spec: { containers: [{ ...web, resources: { requests: { memory: 'lots' } } }] },
    want: ['spec.containers[0].resources.requests[memory]: FieldValueInvalid'],
  },
  { name: 'the restart policy must be supported', spec: { containers: [web], restartPolicy: 'Sometimes' }, want: ['spec.restartPolicy: FieldValueNotSupported'] },
  { name: 'the DNS policy must be supported', spec: { containers: [web], dnsPolicy: 'Google' }, want: ['spec.dnsPolicy: FieldValueNotSupported'] },
  {
    name: 'a volume mount must name a volume',
    spec: { containers: [{ ...web, volumeMounts: [{ name: 'data', mountPath: '/data' }] }] },
    want: ['spec.containers[0].volumeMounts[0].name: FieldValueNotFound'],
  },
  {
    name: 'a volume may have only one source',
    spec: { containers: [web], volumes: [{ name: 'v', emptyDir: {}, configMap: { name: 'cm' } }] },
    want: ['spec.volumes[0].configMap: FieldValueForbidden'],
  },
  { name: 'volume names are unique', spec: { containers: [web], volumes: [{ name: 'v' }, { name: 'v' }] }, want: ['spec.volumes[1].name: FieldValueDuplicate'] },
  {
    name: 'a liveness probe must succeed once',
    spec: { containers: [{ ...web, livenessProbe: { exec: { command: ['true'] }, successThreshold: 2 } }] },
    want: ['spec.containers[0].livenessProbe.successThreshold: FieldValueInvalid'],
  },
  { name: 'a probe needs a handler', spec: { containers: [{ ...web, readinessProbe: { periodSeconds: 5 } }] }, want: ['spec.containers[0].readinessProbe: FieldValueRequired'] },
  {
    name: 'an env var may not have both a value and a source',
    spec: { containers: [{ ...web, env: [{ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }] },
    want: ['spec.containers[0].env[0].valueFrom: FieldValueInvalid'],
  },
  {
    name: 'a downward API field path must be supported',
    spec: { containers: [{ ...web, env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.hostname' } } }] }] },
    want: ['spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: FieldValueNotSupported'],
  },
  {
    name: 'a toleration without a key must use Exists',
    spec: { containers: [web], tolerations: [{ operator: 'Equal', value: 'x' }] },
    want: ['spec.tolerations[0].operator: FieldValueInvalid'],
  },
  { name: 'activeDeadlineSeconds must be positive', spec: { containers: [web], activeDeadlineSeconds: 0 }, want: ['spec.activeDeadlineSeconds: FieldValueInvalid'] },
  {
    name: 'a regular init container may not have probes',
    spec: { containers: [web], initContainers: [{ name: 'init', image: 'busybox', readinessProbe: { exec: { command: ['true'] } } }] },
    want: ['spec.initContainers[0].readinessProbe: FieldValueForbidden'],
  },
  {
    name: 'a sidecar init container may have probes',
    spec: { containers: [web], initContainers: [{ name: 'proxy', image: 'envoy', restartPolicy: 'Always', readinessProbe: { exec: { command: ['true'] } } }] },
    want: [],
  },
  { name: 'host ports are unique in a pod', spec: { containers: [{ ...web, ports: [{ containerPort: 80, hostPort: 8080 }] }, { name: 'b', image: 'b', ports: [{ containerPort: 81, hostPort: 8080 }] }] }, want: ['spec.containers[1].ports[0].hostPort: FieldValueDuplicate'] },
  {
    name: 'a valid pod with volumes, env and probes passes',
    spec: {
      containers: [
        {
          ...web,
          ports: [{ name: 'http', containerPort: 80 }],
          env: [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          volumeMounts: [{ name: 'config', mountPath: '/etc/app' }],
          readinessProbe: { httpGet: { port: 'http' } },
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '128Mi' } },
        },
      ],
      volumes: [{ name: 'config', configMap: { name: 'app', items: [{ key: 'a', path: 'a.conf' }] } }],
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
    },
    want: [],
  },
];
for (const c of podValidationCases) {
  test(c.name, () => assert.deepEqual(summary(create(pods, pod(c.spec)).causes), c.want));
}

test('the reason text follows upstream wording', () => {
  const { causes } = create(pods, pod({ containers: [{ ...web, resources: { limits: { cpu: '1' }, requests: { cpu: '2' } } }] }));
  assert.equal(causes[0]!.message, 'Invalid value: "2": must be less than or equal to cpu limit of 1');
});

// ---- updates ---------------------------------------------------------------------------------------------

function storedPod(spec: Record<string, unknown> = { containers: [web] }): TestObject {
  const { obj } = create(pods, pod(spec));
  obj.metadata.generation = 1;
  return obj;
}

const podUpdateCases: { name: string; change: (p: TestObject) => void; want: string[] }[] = [
  { name: 'an image may change', change: (p) => (p.spec.containers[0].image = 'nginx:1.27'), want: [] },
  { name: 'tolerations may be added', change: (p) => (p.spec.tolerations = [{ key: 'k', operator: 'Exists' }]), want: [] },
  { name: 'activeDeadlineSeconds may be set', change: (p) => (p.spec.activeDeadlineSeconds = 60), want: [] },
  { name: 'containers may not be added', change: (p) => p.spec.containers.push({ name: 'b', image: 'b' }), want: ['spec.containers: FieldValueForbidden'] },
  { name: 'other spec fields may not change', change: (p) => (p.spec.restartPolicy = 'Never'), want: ['spec: FieldValueForbidden'] },
  { name: 'container ports may not change', change: (p) => (p.spec.containers[0].ports = [{ containerPort: 80 }]), want: ['spec: FieldValueForbidden'] },
];
for (const c of podUpdateCases) {
  test(c.name, () => {
    const old = storedPod();
    const next = structuredClone(old);
    c.change(next);
    assert.deepEqual(summary(update(pods, next, old).causes), c.want);
  });
}

test('the forbidden-update message lists the fields that may change', () => {
  const old = storedPod();
  const next = structuredClone(old);
  next.spec.restartPolicy = 'Never';
  assert.match(update(pods, next, old).causes[0]!.message!, /^Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`,/);
});

test('a main update keeps the stored status and a status update keeps the stored spec', () => {
  const old = storedPod();
  old.status = { phase: 'Running', podIP: '10.42.0.5', podIPs: [{ ip: '10.42.0.5' }] };
  const main = structuredClone(old);
  main.status = { phase: 'Failed' };
  assert.equal(update(pods, main, old).obj.status.phase, 'Running');
  const st = structuredClone(old);
  st.spec.containers[0].image = 'changed';
  st.status = { phase: 'Succeeded', podIP: '10.42.0.6' };
  const { obj, causes } = update(pods, st, old, 'status');
  assert.equal(obj.spec.containers[0].image, 'nginx');
  assert.deepEqual(obj.status, { phase: 'Succeeded', podIP: '10.42.0.6', podIPs: [{ ip: '10.42.0.6' }] });
  assert.deepEqual(summary(causes), []);
});

test('the QoS class is computed at creation and a status update may not change it', () => {
  const created = create(pods, pod({ containers: [{ ...web, resources: { requests: { cpu: '100m' } } }] })).obj;
  assert.equal(created.status.qosClass, 'Burstable');
  const st = structuredClone(created);
  st.status = { ...st.status, phase: 'Running', qosClass: 'BestEffort' };
  assert.deepEqual(update(pods, st, created, 'status').causes.map((c) => [c.field, c.message]), [['status.qosClass', 'Invalid value: "BestEffort": field is immutable']]);
  const without = structuredClone(created);
  without.status = { phase: 'Running' };
  const kept = update(pods, without, created, 'status');
  assert.equal(kept.obj.status.qosClass, 'Burstable');
  assert.deepEqual(kept.causes, []);
});

test('a status update may not move the pod to another node', () => {
  const old = storedPod();
  const st = structuredClone(old);
  st.spec.nodeName = 'elsewhere';
  // the status hook restores the spec, so the node name stays
  assert.equal(update(pods, st, old, 'status').obj.spec.nodeName, undefined);
});

test('pods get a generation and ask for graceful deletion only once scheduled', () => {
  assert.equal(pods.generation, true);
  const unscheduled = storedPod();
  assert.equal(pods.deleteGracePeriod!(unscheduled, undefined), 0);
  const scheduled = storedPod();
  scheduled.spec.nodeName = 'n1';
  assert.equal(pods.deleteGracePeriod!(scheduled, undefined), 30);
  assert.equal(pods.deleteGracePeriod!(scheduled, 5), 5);
  scheduled.status = { phase: 'Succeeded' };
  assert.equal(pods.deleteGracePeriod!(scheduled, undefined), 0);
});

// ---- table -----------------------------------------------------------------------------------------------

const t0 = '2024-01-01T00:00:00Z';
const fiveMinutesAgo = '2024-01-01T00:55:00Z';

function podWith(status: Record<string, unknown>, spec: Record<string, unknown> = { containers: [web] }, meta: KubeObject['metadata'] = {}): TestObject {
  return make(pods, { spec, status }, { creationTimestamp: t0, ...meta });
}

const running = { running: { startedAt: t0 } };
const readyRunning = { name: 'web', ready: true, restartCount: 0, state: running };

const podRowCases: { name: string; pod: TestObject; want: unknown[] }[] = [
  {
    name: 'a pending pod',
    pod: podWith({ phase: 'Pending' }),
    want: ['x', '0/1', 'Pending', '0', '60m', '<none>', '<none>', '<none>', '<none>'],
  },
  {
    name: 'a running pod with its IP and node',
    pod: podWith({ phase: 'Running', podIPs: [{ ip: '10.42.0.7' }], containerStatuses: [readyRunning] }, { containers: [web], nodeName: 'n1' }),
    want: ['x', '1/1', 'Running', '0', '60m', '10.42.0.7', 'n1', '<none>', '<none>'],
  },
  {
    name: 'a container waiting to pull shows the waiting reason',
    pod: podWith({ phase: 'Pending', containerStatuses: [{ name: 'web', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] }),
    want: ['x', '0/1', 'ContainerCreating', '0', '60m', '<none>', '<none>', '<none>', '<none>'],
  },
  {
    name: 'a crash-looping container shows restarts and when it last restarted',
    pod: podWith({
      phase: 'Running',
      containerStatuses: [
        { name: 'web', ready: false, restartCount: 5, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, finishedAt: fiveMinutesAgo } } },
      ],
    }),
    want: ['x', '0/1', 'CrashLoopBackOff', '5 (5m ago)', '60m', '<none>', '<none>', '<none>', '<none>'],
  },
  {
    name: 'a finished pod shows Completed',
    pod: podWith({ phase: 'Succeeded', containerStatuses: [{ name: 'web', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }),
    want: ['x', '0/1', 'Completed', '0', '60m', '<none>', '<none>', '<none>', '<none>'],
  },
  {
    name: 'a container killed by a signal without a reason shows the signal',
    pod: podWith({ phase: 'Failed', containerStatuses: [{ name: 'web', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, signal: 9 } } }] }),
    want: ['x', '0/1', 'Signal:9', '0', '60m', '<none>', '<none>', '<none>', '<none>'],
  },
  {
    name: 'a pod being deleted shows Terminating',
    pod: podWith({ phase: 'Running', containerStatuses: [readyRunning] }, { containers: [web] }, { deletionTimestamp: '2024-01-01T01:00:30Z' }),
    want: ['x', '1/1', 'Terminating', '0', '60m', '<none>', '<none>', '<none>', '<none>'],
  },
  {
    name: 'a pod waiting on its first init container shows Init:0/2',
    pod: podWith(
      { phase: 'Pending', initContainerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: running }, { name: 'b', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }] },
      { containers: [web], initContainers: [{ name: 'a', image: 'a' }, { name: 'b', image: 'b' }] },
    ),
    want: ['x', '0/1', 'Init:0/2', '0', '60m', '<none>', '<none>', '<none>', '<none>'],
  },
  {
    name: 'a failed init container shows Init:Error',
    pod: podWith(
      { phase: 'Pending', initContainerStatuses: [{ name: 'a', ready: false, restartCount: 2, state: { terminated: { exitCode: 1, reason: 'Error' } } }] },
      { containers: [web], initContainers: [{ name: 'a', image: 'a' }] },
    ),
    want: ['x', '0/1', 'Init:Error', '2', '60m', '<none>', '<none>', '<none>', '<none>'],
  },
  {
    name: 'a started sidecar counts towards READY and the total',
    pod: podWith(
      {
        phase: 'Running',
        conditions: [{ type: 'Initialized', status: 'True' }],
        initContainerStatuses: [{ name: 'proxy', ready: true, started: true, restartCount: 0, state: running }],
        containerStatuses: [readyRunning],
      },
      { containers: [web], initContainers: [{ name: 'proxy', image: 'envoy', restartPolicy: 'Always' }] },
    ),
    want: ['x', '2/2', 'Running', '0', '60m', '<none>', '<none>', '<none>', '<none>'],
  },
  {
    name: 'a gated pod shows SchedulingGated',
    pod: podWith({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] }),
    want: ['x', '0/1', 'SchedulingGated', '0', '60m', '<none>', '<none>', '<none>', '<none>'],
  },
  {
    name: 'readiness gates count the true conditions',
    pod: podWith(
      { phase: 'Running', conditions: [{ type: 'example.com/lb', status: 'True' }] },
      { containers: [web], readinessGates: [{ conditionType: 'example.com/lb' }, { conditionType: 'example.com/dns' }] },
    ),
    want: ['x', '0/1', 'Running', '0', '60m', '<none>', '<none>', '<none>', '1/2'],
  },
];
for (const c of podRowCases) {
  test(`pod row: ${c.name}`, () => assert.deepEqual(pods.table!.row(c.pod, oneHourLater), c.want));
}

test('the pod table has upstream columns, wide ones at priority 1', () => {
  assert.deepEqual(
    pods.table!.columns.map((c) => `${c.name}:${c.type}:${c.priority}`),
    ['Name:string:0', 'Ready:string:0', 'Status:string:0', 'Restarts:string:0', 'Age:string:0', 'IP:string:1', 'Node:string:1', 'Nominated Node:string:1', 'Readiness Gates:string:1'],
  );
  assert.equal(pods.table!.columns[0]!.format, 'name');
});

// ---- field selectors -------------------------------------------------------------------------------------

test('pod field selectors read the fields upstream exposes', () => {
  const p = podWith({ phase: 'Running', podIPs: [{ ip: '10.1.2.3' }], nominatedNodeName: 'n2' }, { containers: [web], nodeName: 'n1', restartPolicy: 'Never', schedulerName: 's', serviceAccountName: 'sa' });
  const got = Object.fromEntries(Object.entries(pods.fieldSelectors!).map(([k, f]) => [k, f(p)]));
  assert.deepEqual(got, {
    'spec.nodeName': 'n1',
    'spec.restartPolicy': 'Never',
    'spec.schedulerName': 's',
    'spec.serviceAccountName': 'sa',
    'spec.hostNetwork': 'false',
    'status.phase': 'Running',
    'status.podIP': '10.1.2.3',
    'status.nominatedNodeName': 'n2',
  });
});

// ---- PodTemplates -----------------------------------------------------------------------------------------

test('a pod template is defaulted like a template and validated at template.*', () => {
  const { obj, causes } = create(podTemplates, make(podTemplates, { template: { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'c' }] } } }));
  assert.equal(obj.template.spec.dnsPolicy, 'ClusterFirst');
  assert.equal(obj.template.spec.enableServiceLinks, undefined);
  assert.deepEqual(summary(causes), ['template.spec.containers[0].image: FieldValueRequired']);
  assert.deepEqual(podTemplates.table!.row(obj, oneHourLater), ['x', 'c', '', 'app=a']);
});

// ---- ReplicationControllers -------------------------------------------------------------------------------

const rcTemplate = { metadata: { labels: { app: 'web' } }, spec: { containers: [web] } };

test('a replication controller takes replicas 1, its selector and its labels from the template', () => {
  const { obj, causes } = create(replicationControllers, make(replicationControllers, { spec: { template: rcTemplate } }));
  assert.equal(obj.spec.replicas, 1);
  assert.deepEqual(obj.spec.selector, { app: 'web' });
  assert.deepEqual(obj.metadata.labels, { app: 'web' });
  assert.deepEqual(obj.status, { replicas: 0 });
  assert.deepEqual(summary(causes), []);
});

const rcValidationCases: { name: string; spec: Record<string, unknown>; want: string[] }[] = [
  { name: 'a selector that does not match the template is rejected', spec: { selector: { app: 'db' }, template: rcTemplate }, want: ['spec.template.metadata.labels: FieldValueInvalid'] },
  { name: 'a template is required', spec: { selector: { app: 'web' } }, want: ['spec.template: FieldValueRequired'] },
  {
    name: 'the template must restart always',
    spec: { template: { ...rcTemplate, spec: { containers: [web], restartPolicy: 'OnFailure' } } },
    want: ['spec.template.spec.restartPolicy: FieldValueNotSupported'],
  },
  { name: 'replicas may not be negative', spec: { replicas: -1, template: rcTemplate }, want: ['spec.replicas: FieldValueInvalid'] },
];
for (const c of rcValidationCases) {
  test(c.name, () => assert.deepEqual(summary(create(replicationControllers, make(replicationControllers, { spec: c.spec })).causes), c.want));
}

test('replication controllers are stored under controllers, scale, and select on status.replicas', () => {
  assert.equal(replicationControllers.storagePrefix, 'controllers');
  assert.deepEqual(replicationControllers.subresources?.scale, { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' });
  const rc = make(replicationControllers, { spec: { replicas: 3, selector: { app: 'web' }, template: rcTemplate }, status: { replicas: 2, readyReplicas: 1 } });
  assert.equal(replicationControllers.fieldSelectors!['status.replicas']!(rc), '2');
  assert.deepEqual(replicationControllers.table!.row(rc, oneHourLater), ['x', 3, 2, 1, '60m', 'web', 'nginx', 'app=web']);
});

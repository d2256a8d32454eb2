/**
 * The controllers' decision logic as tables: rolling-update arithmetic, deletion ranking,
 * template hashing, endpoint packing and port resolution, pod GC selection, taints and
 * tolerations.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Deployment, IntOrString, Node, Pod, PodDisruptionBudget, PodDisruptionBudgetSpec, Service, ServicePort, ServiceSpec, Taint, Toleration } from '../api/index.ts';
import { compareForDeletion, intOrPercent, isPodAvailable, podTemplateHash, semanticEqual } from './controller-utils.ts';
import { fenceposts, newReplicasForRolling, oldScaleDownBudget } from './deployment.ts';
import { desiredSlices, endpointSubsets, podEndpoints, resolvePort } from './endpoints.ts';
import { terminatedOverThreshold } from './podgc.ts';
import { evictionTime, noScheduleTaints, taintsForReady, tolerates } from './nodelifecycle.ts';
import { budgetStatus } from './disruption.ts';

const deploy = (replicas: number, maxSurge?: IntOrString, maxUnavailable?: IntOrString): Deployment => ({
  metadata: { name: 'd' },
  spec: { replicas, template: {}, strategy: { type: 'RollingUpdate', rollingUpdate: { ...(maxSurge === undefined ? {} : { maxSurge }), ...(maxUnavailable === undefined ? {} : { maxUnavailable }) } } },
});

describe('rolling update arithmetic', () => {
  const fp: [string, Deployment, { surge: number; unavailable: number }][] = [
    ['defaults are 25% each: surge rounds up, unavailable down', deploy(4), { surge: 1, unavailable: 1 }],
    ['10 replicas at 25%', deploy(10), { surge: 3, unavailable: 2 }],
    ['1 replica at 25%: surge 1, unavailable 0', deploy(1), { surge: 1, unavailable: 0 }],
    ['absolute numbers are taken as they are', deploy(5, 2, 1), { surge: 2, unavailable: 1 }],
    ['both zero becomes unavailable 1', deploy(3, 0, 0), { surge: 0, unavailable: 1 }],
    ['percentages of 50%', deploy(3, '50%', '50%'), { surge: 2, unavailable: 1 }],
  ];
  for (const [name, d, want] of fp) test(name, () => assert.deepEqual(fenceposts(d), want));

  const up: [string, number, number, number, number, number][] = [
    // name, desired, surge, new, all, want new
    ['a fresh rollout surges by maxSurge', 4, 1, 0, 4, 1],
    ['no room above replicas + surge: no change', 4, 1, 1, 5, 1],
    ['room left is used up to desired', 4, 2, 1, 4, 3],
    ['never above desired', 4, 5, 3, 3, 4],
    ['a first rollout with no old pods goes to desired', 3, 1, 0, 0, 3],
  ];
  for (const [name, desired, surge, n, all, want] of up) test(name, () => assert.equal(newReplicasForRolling(desired, surge, n, all), want));

  const down: [string, number, number, number, number, number, number][] = [
    // name, desired, unavailable, all, newSpec, newAvailable, want budget
    ['with maxUnavailable 0 nothing may go until the new pod is available', 4, 0, 5, 1, 0, 0],
    ['maxUnavailable 1 lets one old pod go while the new one starts', 4, 1, 5, 1, 0, 1],
    ['an available new pod frees one more', 4, 1, 5, 1, 1, 2],
    ['maxUnavailable lets old pods go before new ones are up', 4, 2, 4, 0, 0, 2],
  ];
  for (const [name, desired, unavailable, all, ns, na, want] of down) test(name, () => assert.equal(oldScaleDownBudget(desired, unavailable, all, ns, na), want));

  test('int-or-percent resolution', () => {
    assert.equal(intOrPercent('33%', 10, true, '0'), 4);
    assert.equal(intOrPercent('33%', 10, false, '0'), 3);
    assert.equal(intOrPercent(undefined, 8, true, '25%'), 2);
    assert.equal(intOrPercent(3, 8, true, '25%'), 3);
  });
});

const pod = (name: string, extra: { node?: string; phase?: string; ready?: boolean; readySince?: string; restarts?: number; created?: string } = {}): Pod => ({
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, creationTimestamp: extra.created ?? '2026-01-01T00:00:00Z' },
  spec: { ...(extra.node ? { nodeName: extra.node } : {}), containers: [{ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: 8080 }] }] },
  status: {
    phase: extra.phase ?? 'Running',
    podIP: `10.0.0.${name.length}`,
    conditions: extra.ready === undefined ? [] : [{ type: 'Ready', status: extra.ready ? 'True' : 'False', lastTransitionTime: extra.readySince ?? '2026-01-01T00:00:00Z' }],
    containerStatuses: [{ name: 'c', ready: false, restartCount: extra.restarts ?? 0, image: 'i', imageID: '' }],
  },
});

describe('which pods go first when scaling down', () => {
  const cases: [string, Pod, Pod][] = [
    ['an unassigned pod before an assigned one', pod('a'), pod('b', { node: 'n' })],
    ['a pending pod before a running one', pod('a', { node: 'n', phase: 'Pending' }), pod('b', { node: 'n' })],
    ['a not-ready pod before a ready one', pod('a', { node: 'n', ready: false }), pod('b', { node: 'n', ready: true })],
    ['ready for less time before longer', pod('a', { node: 'n', ready: true, readySince: '2026-01-02T00:00:00Z' }), pod('b', { node: 'n', ready: true })],
    ['more restarts before fewer', pod('a', { node: 'n', ready: true, restarts: 3 }), pod('b', { node: 'n', ready: true })],
    ['newer before older', pod('a', { node: 'n', ready: true, created: '2026-01-03T00:00:00Z' }), pod('b', { node: 'n', ready: true })],
  ];
  for (const [name, first, second] of cases) {
    test(name, () => {
      assert.ok(compareForDeletion(first, second) < 0);
      assert.ok(compareForDeletion(second, first) > 0);
    });
  }

  test('availability waits for minReadySeconds', () => {
    const p = pod('a', { ready: true, readySince: '2026-01-01T00:00:00Z' });
    assert.equal(isPodAvailable(p, 10, Date.parse('2026-01-01T00:00:05Z')), false);
    assert.equal(isPodAvailable(p, 10, Date.parse('2026-01-01T00:00:10Z')), true);
  });
});

describe('pod-template hash and expectations', () => {
  test('the hash is stable, key-order independent, and changes with the template or collisions', () => {
    const a = podTemplateHash({ metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i:1' }] } });
    const b = podTemplateHash({ spec: { containers: [{ image: 'i:1', name: 'c' }] }, metadata: { labels: { app: 'x' } } });
    assert.equal(a, b);
    assert.match(a, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.notEqual(podTemplateHash({ spec: { containers: [{ name: 'c', image: 'i:2' }] } }), podTemplateHash({ spec: { containers: [{ name: 'c', image: 'i:1' }] } }));
    assert.notEqual(podTemplateHash({ a: 1 }, 1), podTemplateHash({ a: 1 }));
  });
});

describe('semantic template equality (upstream EqualIgnoreHash)', () => {
  const t = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i:1', resources: {} }], securityContext: {} } };
  const cases: [string, unknown, boolean][] = [
    ['a template restored by rollout undo (creationTimestamp: null) equals the stored one', { ...t, metadata: { ...t.metadata, creationTimestamp: null } }, true],
    ['an empty map equals an absent one', { ...t, metadata: { ...t.metadata, annotations: {} } }, true],
    ['an empty list equals an absent one', { ...t, spec: { ...t.spec, volumes: [] } }, true],
    ['another image differs', { ...t, spec: { ...t.spec, containers: [{ name: 'c', image: 'i:2' }] } }, false],
    ['another label differs', { ...t, metadata: { labels: { app: 'y' } } }, false],
  ];
  for (const [name, other, want] of cases) test(name, () => assert.equal(semanticEqual(t, other), want));
  test('the pod-template hash ignores what semantic equality ignores', () => {
    assert.equal(podTemplateHash({ ...t, metadata: { ...t.metadata, creationTimestamp: null } }), podTemplateHash(t));
  });
});

describe('endpoints', () => {
  const svc = (ports: ServicePort[], extra: Partial<ServiceSpec> = {}): Service => ({ metadata: { name: 's', namespace: 'ns' }, spec: { selector: { app: 'x' }, ports, ...extra } });

  test('a named targetPort resolves per pod; numbers are taken as they are', () => {
    assert.equal(resolvePort(pod('a'), { port: 80, targetPort: 'http' }), 8080);
    assert.equal(resolvePort(pod('a'), { port: 80, targetPort: 'grpc' }), undefined);
    assert.equal(resolvePort(pod('a'), { port: 80, targetPort: 9000 }), 9000);
    assert.equal(resolvePort(pod('a'), { port: 80 }), 80);
  });

  test('ready pods are addresses, unready ones notReadyAddresses, terminating ones left out', () => {
    const terminating = pod('ccc', { ready: true });
    terminating.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    const eps = podEndpoints(svc([{ name: 'web', port: 80, targetPort: 'http' }]), [pod('a', { ready: true }), pod('bb', { ready: false }), terminating]);
    assert.deepEqual(endpointSubsets(eps), [
      {
        addresses: [{ ip: '10.0.0.1', targetRef: { kind: 'Pod', namespace: 'ns', name: 'a', uid: 'uid-a' } }],
        notReadyAddresses: [{ ip: '10.0.0.2', targetRef: { kind: 'Pod', namespace: 'ns', name: 'bb', uid: 'uid-bb' } }],
        ports: [{ name: 'web', port: 8080, protocol: 'TCP' }],
      },
    ]);
  });

  test('addresses are in byte order of their IPs, as upstream\'s LessEndpointAddress compares them', () => {
    const eps = podEndpoints(svc([{ port: 80 }]), [pod('nine-char', { ready: true }), pod('ten-chars!', { ready: true }), pod('two', { ready: true })]);
    assert.deepEqual(endpointSubsets(eps)[0]!.addresses!.map((a) => a.ip), ['10.0.0.10', '10.0.0.3', '10.0.0.9']);
  });

  test('publishNotReadyAddresses lists every pod as ready', () => {
    const eps = podEndpoints(svc([{ port: 80 }], { publishNotReadyAddresses: true }), [pod('a', { ready: false })]);
    assert.equal(eps[0]!.ready, true);
  });

  test('slices carry ready, serving and terminating conditions and split by port set', () => {
    const terminating = pod('ccc', { ready: true, node: 'n1' });
    terminating.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    const other = pod('dddd', { ready: true });
    other.spec!.containers[0]!.ports = [{ name: 'http', containerPort: 9090 }];
    const slices = desiredSlices(svc([{ name: 'web', port: 80, targetPort: 'http' }]), podEndpoints(svc([{ name: 'web', port: 80, targetPort: 'http' }]), [pod('a', { ready: true }), terminating, other]), (n) => (n === 'n1' ? 'zone-a' : undefined));
    assert.equal(slices.length, 2);
    const s8080 = slices.find((s) => s.ports[0]!.port === 8080)!;
    assert.deepEqual(s8080.endpoints.map((e) => e.conditions), [{ ready: true, serving: true, terminating: false }, { ready: false, serving: true, terminating: true }]);
    assert.equal(s8080.endpoints[1]!.zone, 'zone-a');
  });
});

describe('pod garbage collection', () => {
  test('the oldest finished pods over the threshold are chosen', () => {
    const pods = [pod('a', { phase: 'Succeeded', created: '2026-01-03T00:00:00Z' }), pod('b', { phase: 'Failed', created: '2026-01-01T00:00:00Z' }), pod('c', { phase: 'Running' }), pod('d', { phase: 'Succeeded', created: '2026-01-02T00:00:00Z' })];
    assert.deepEqual(terminatedOverThreshold(pods, 1).map((p) => p.metadata.name), ['b', 'd']);
    assert.deepEqual(terminatedOverThreshold(pods, 3), []);
    assert.deepEqual(terminatedOverThreshold(pods, 0), []);
  });
});

describe('taints and tolerations', () => {
  const unreachable: Taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' };
  const tol: [string, Toleration, boolean][] = [
    ['Exists with the key tolerates', { key: unreachable.key, operator: 'Exists' }, true],
    ['Exists without a key tolerates everything', { operator: 'Exists' }, true],
    ['another effect does not', { key: unreachable.key, operator: 'Exists', effect: 'NoSchedule' }, false],
    ['Equal needs the same value', { key: unreachable.key, operator: 'Equal', value: 'x' }, false],
    ['another key does not', { key: 'other', operator: 'Exists' }, false],
  ];
  for (const [name, t, want] of tol) test(name, () => assert.equal(tolerates(t, unreachable), want));

  const p = (tolerations: Toleration[]): Pod => ({ metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }], tolerations } });
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  test('an untolerated NoExecute taint evicts now', () => assert.equal(evictionTime(p([]), [unreachable], t0 + 1), 0));
  test('tolerationSeconds evicts that long after the taint was added', () => assert.equal(evictionTime(p([{ key: unreachable.key, operator: 'Exists', tolerationSeconds: 5 }]), [unreachable], t0), t0 + 5000));
  test('an unbounded toleration never evicts', () => assert.equal(evictionTime(p([{ operator: 'Exists' }]), [unreachable], t0), undefined));

  test('Ready False gives the not-ready NoExecute taint, Unknown unreachable, True none; other taints stay', () => {
    const other: Taint = { key: 'team', value: 'a', effect: 'NoSchedule' };
    const noSchedule: Taint = { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' };
    assert.deepEqual(taintsForReady('False', [other, noSchedule], t0).map((t) => `${t.key}:${t.effect}`), ['team:NoSchedule', 'node.kubernetes.io/not-ready:NoSchedule', 'node.kubernetes.io/not-ready:NoExecute']);
    assert.deepEqual(taintsForReady('Unknown', [], t0).map((t) => `${t.key}:${t.effect}`), ['node.kubernetes.io/unreachable:NoExecute']);
    assert.deepEqual(taintsForReady('True', [other, unreachable, noSchedule], t0), [other, noSchedule], 'NoSchedule taints are the NoSchedule pass\'s');
    assert.deepEqual(taintsForReady(undefined, [other], t0), [other], 'no Ready condition yet: nothing changes');
    assert.equal(taintsForReady('Unknown', [unreachable], t0 + 99_000).find((t) => t.effect === 'NoExecute')!.timeAdded, unreachable.timeAdded, 'an existing taint keeps its timeAdded');
  });

  const node = (conditions: [string, string][], taints: Taint[] = [], unschedulable = false): Node => ({
    metadata: { name: 'n' },
    spec: { taints, ...(unschedulable ? { unschedulable } : {}) },
    status: { conditions: conditions.map(([type, status]) => ({ type, status })) },
  });
  const ns = (key: string): Taint => ({ key: `node.kubernetes.io/${key}`, effect: 'NoSchedule' });
  const show = (ts: Taint[] | undefined) => ts?.map((t) => `${t.key}:${t.effect}`);
  const pass: [string, Node, string[] | undefined][] = [
    ['a Ready node loses the not-ready taint it was created with', node([['Ready', 'True']], [ns('not-ready')]), []],
    ['a node without conditions loses it too, as upstream', node([], [ns('not-ready')]), []],
    ['Ready False adds not-ready', node([['Ready', 'False']]), ['node.kubernetes.io/not-ready:NoSchedule']],
    ['Ready Unknown swaps not-ready for unreachable', node([['Ready', 'Unknown']], [ns('not-ready')]), ['node.kubernetes.io/unreachable:NoSchedule']],
    [
      'pressure and network conditions that are True add their taints',
      node([['Ready', 'True'], ['MemoryPressure', 'True'], ['DiskPressure', 'True'], ['PIDPressure', 'True'], ['NetworkUnavailable', 'True']]),
      ['node.kubernetes.io/memory-pressure:NoSchedule', 'node.kubernetes.io/disk-pressure:NoSchedule', 'node.kubernetes.io/pid-pressure:NoSchedule', 'node.kubernetes.io/network-unavailable:NoSchedule'],
    ],
    ['pressure that is False or Unknown adds nothing', node([['Ready', 'True'], ['MemoryPressure', 'False'], ['DiskPressure', 'Unknown']]), undefined],
    ['a cordoned node gets the unschedulable taint', node([['Ready', 'True']], [], true), ['node.kubernetes.io/unschedulable:NoSchedule']],
    ['an uncordoned node loses it', node([['Ready', 'True']], [ns('unschedulable')]), []],
    ['a node already as it should be is left alone', node([['Ready', 'False']], [ns('not-ready')]), undefined],
    [
      'other taints, and NoExecute ones, stay where they are',
      node([['Ready', 'True']], [{ key: 'team', effect: 'NoSchedule' }, ns('not-ready'), { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }]),
      ['team:NoSchedule', 'node.kubernetes.io/not-ready:NoExecute'],
    ],
  ];
  for (const [name, n, want] of pass) test(name, () => assert.deepEqual(show(noScheduleTaints(n, t0)), want));
  test('taints the pass adds carry the time they were added', () => {
    assert.deepEqual(noScheduleTaints(node([['Ready', 'False']]), t0), [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule', timeAdded: '2026-01-01T00:00:00Z' }]);
  });
});

describe('disruption budgets', () => {
  const ready = (name: string, ok = true): Pod => ({ metadata: { name }, status: { conditions: [{ type: 'Ready', status: ok ? 'True' : 'False' }] } });
  const pdb = (spec: PodDisruptionBudgetSpec): PodDisruptionBudget => ({ metadata: { name: 'b' }, spec });
  const cases: [string, PodDisruptionBudgetSpec, Pod[], string[], { currentHealthy: number; desiredHealthy: number; disruptionsAllowed: number }][] = [
    ['minAvailable as a number', { minAvailable: 2 }, [ready('a'), ready('b'), ready('c')], [], { currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1 }],
    ['minAvailable as a percentage rounds up', { minAvailable: '50%' }, [ready('a'), ready('b'), ready('c')], [], { currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1 }],
    ['maxUnavailable leaves the rest needed', { maxUnavailable: 1 }, [ready('a'), ready('b'), ready('c')], [], { currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1 }],
    ['unready pods are not healthy', { minAvailable: 2 }, [ready('a'), ready('b', false), ready('c')], [], { currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0 }],
    ['a just-evicted pod is not healthy', { minAvailable: 1 }, [ready('a'), ready('b')], ['a'], { currentHealthy: 1, desiredHealthy: 1, disruptionsAllowed: 0 }],
  ];
  for (const [name, spec, pods, disrupted, want] of cases) {
    test(name, () => {
      const s = budgetStatus(pdb(spec), pods, new Set(disrupted));
      assert.deepEqual({ currentHealthy: s.currentHealthy, desiredHealthy: s.desiredHealthy, disruptionsAllowed: s.disruptionsAllowed }, want);
    });
  }
});

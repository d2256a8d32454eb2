/**
 * Server-side apply and managedFields, case by case on real built-in types: merge per list type,
 * pruning, conflicts and force, shared ownership, Update ownership transfer, before-first-apply,
 * the cap on Update managers, FieldsV1 round trips and conflict path formatting.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { applyConfig, decodeFieldsV1, decodeFieldsV1Form, encodeFieldsV1, fieldSetOf, formatPath, updateManagedFields, type ApplyOptions, type ManagedOptions } from './index.ts';
import { isStatusError } from '../errors.ts';
import type { KubeObject } from '../types.ts';

const now = '2026-01-01T00:00:00Z';
const deployOpts = (manager: string, extra: Partial<ApplyOptions> = {}): ApplyOptions => ({
  manager,
  apiVersion: 'apps/v1',
  typeName: 'apps.v1.Deployment',
  statusSplit: true,
  now,
  gk: { group: 'apps', kind: 'Deployment' },
  force: false,
  ...extra,
});
const podOpts = (manager: string, extra: Partial<ApplyOptions> = {}): ApplyOptions => ({
  manager,
  apiVersion: 'v1',
  typeName: 'core.v1.Pod',
  statusSplit: true,
  now,
  gk: { group: '', kind: 'Pod' },
  force: false,
  ...extra,
});

const deploy = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', ...metadata }, spec });
const pod = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', ...metadata }, spec });
const ctr = (name: string, extra: Record<string, unknown> = {}) => ({ name, image: `${name}:1`, ...extra });
const withoutManaged = (o: KubeObject) => {
  const { managedFields: _m, ...metadata } = o.metadata;
  return { ...o, metadata };
};
const managers = (o: KubeObject) => (o.metadata.managedFields ?? []).map((m) => [m.manager, m.operation]);
const owned = (o: KubeObject, manager: string) => o.metadata.managedFields?.find((m) => m.manager === manager)?.fieldsV1;

/** Applies configs in turn (each [manager, config, force?]) from nothing. */
function applyAll(steps: [string, KubeObject, boolean?][], opts = podOpts): KubeObject {
  let live: KubeObject | undefined;
  for (const [m, cfg, force] of steps) live = applyConfig(live, cfg, opts(m, { force: force ?? false }));
  return live!;
}

describe('merging an applied configuration', () => {
  const cases: { name: string; steps: [string, KubeObject, boolean?][]; want: unknown; opts?: typeof podOpts }[] = [
    {
      name: 'containers (a keyed list) merge by name across managers',
      steps: [['a', pod({ containers: [ctr('web')] })], ['b', pod({ containers: [ctr('side')] })]],
      want: pod({ containers: [ctr('web'), ctr('side')] }),
    },
    {
      name: 'an item one manager owns is updated in place by that manager',
      steps: [['a', pod({ containers: [ctr('web'), ctr('x')] })], ['a', pod({ containers: [ctr('web', { image: 'web:2' }), ctr('x')] })]],
      want: pod({ containers: [ctr('web', { image: 'web:2' }), ctr('x')] }),
    },
    {
      name: 'ports key on containerPort and protocol together',
      steps: [
        ['a', pod({ containers: [ctr('web', { ports: [{ containerPort: 53, protocol: 'TCP' }] })] })],
        ['b', pod({ containers: [{ name: 'web', ports: [{ containerPort: 53, protocol: 'UDP' }] }] })],
      ],
      want: pod({ containers: [ctr('web', { ports: [{ containerPort: 53, protocol: 'TCP' }, { containerPort: 53, protocol: 'UDP' }] })] }),
    },
    {
      name: 'finalizers (a set) are a union of what managers apply',
      steps: [['a', pod({}, { finalizers: ['x.io/a'] })], ['b', pod({}, { finalizers: ['x.io/b'] })]],
      want: pod({}, { finalizers: ['x.io/a', 'x.io/b'] }),
    },
    {
      name: 'args (an atomic list) are replaced by the owner',
      steps: [['a', pod({ containers: [ctr('web', { args: ['1', '2'] })] })], ['a', pod({ containers: [ctr('web', { args: ['3'] })] })]],
      want: pod({ containers: [ctr('web', { args: ['3'] })] }),
    },
    {
      name: 'labels (a granular map) merge across managers',
      steps: [['a', pod({}, { labels: { x: '1' } })], ['b', pod({}, { labels: { y: '2' } })]],
      want: pod({}, { labels: { x: '1', y: '2' } }),
    },
    {
      name: 'a label dropped from a configuration is removed',
      steps: [['a', pod({}, { labels: { x: '1', y: '2' } })], ['a', pod({}, { labels: { x: '1' } })]],
      want: pod({}, { labels: { x: '1' } }),
    },
    {
      name: 'a label dropped by one manager stays when another applies it too',
      steps: [['a', pod({}, { labels: { x: '1' } })], ['b', pod({}, { labels: { x: '1' } })], ['a', pod({}, {})]],
      want: pod({}, { labels: { x: '1' } }),
    },
    {
      name: 'a container dropped from the configuration is removed',
      steps: [['a', pod({ containers: [ctr('web'), ctr('old')] })], ['a', pod({ containers: [ctr('web')] })]],
      want: pod({ containers: [ctr('web')] }),
    },
    {
      name: 'a finalizer dropped from the configuration is removed',
      steps: [['a', pod({}, { finalizers: ['x.io/a', 'x.io/b'] })], ['a', pod({}, { finalizers: ['x.io/a'] })]],
      want: pod({}, { finalizers: ['x.io/a'] }),
    },
    {
      name: 'a nested field dropped from the configuration is removed',
      steps: [['a', pod({ securityContext: { runAsUser: 1, runAsGroup: 2 } })], ['a', pod({ securityContext: { runAsUser: 1 } })]],
      want: pod({ securityContext: { runAsUser: 1 } }),
    },
    {
      name: 'the same value applied by two managers is shared without conflict',
      steps: [['a', pod({ hostname: 'h' })], ['b', pod({ hostname: 'h' })]],
      want: pod({ hostname: 'h' }),
    },
    {
      name: 'a forced apply takes the value',
      steps: [['a', pod({ hostname: 'h' })], ['b', pod({ hostname: 'other' }), true]],
      want: pod({ hostname: 'other' }),
    },
    {
      name: 'the selector (an atomic struct) is replaced whole',
      opts: deployOpts,
      steps: [['a', deploy({ selector: { matchLabels: { a: '1', b: '2' } } })], ['a', deploy({ selector: { matchLabels: { a: '1' } } })]],
      want: deploy({ selector: { matchLabels: { a: '1' } } }),
    },
  ];
  for (const k of cases) {
    test(k.name, () => assert.deepEqual(withoutManaged(applyAll(k.steps, k.opts ?? podOpts)), k.want));
  }
});

describe('ownership', () => {
  test('the applier owns exactly its configuration', () => {
    const o = applyAll([['a', pod({ containers: [ctr('web')] }, { labels: { x: '1' } })]]);
    assert.deepEqual(managers(o), [['a', 'Apply']]);
    assert.deepEqual(owned(o, 'a'), {
      'f:metadata': { 'f:labels': { 'f:x': {} } },
      'f:spec': { 'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:image': {}, 'f:name': {} } } },
    });
  });

  test('a different value owned by another manager is a conflict naming it and the path', () => {
    const live = applyAll([['a', pod({ containers: [ctr('web')] })]]);
    assert.throws(
      () => applyConfig(live, pod({ containers: [ctr('web', { image: 'web:9' })] }), podOpts('b')),
      (err) =>
        isStatusError(err) &&
        err.status.code === 409 &&
        err.message === 'Apply failed with 1 conflict: conflict with "a": .spec.containers[name="web"].image' &&
        JSON.stringify(err.status.details?.causes) === JSON.stringify([{ reason: 'FieldManagerConflict', message: 'conflict with "a"', field: '.spec.containers[name="web"].image' }]),
    );
  });

  test('several conflicts are all listed', () => {
    const live = applyAll([['a', pod({ hostname: 'h', subdomain: 's' })]]);
    assert.throws(() => applyConfig(live, pod({ hostname: 'x', subdomain: 'y' }), podOpts('b')), /Apply failed with 2 conflicts: conflict with "a": \.spec\.hostname\nconflict with "a": \.spec\.subdomain/);
  });

  test('an Update owner is named with its apiVersion and time', () => {
    const created = updateManagedFields(undefined, pod({ hostname: 'h' }), podOpts('kubectl-edit') as ManagedOptions);
    assert.throws(() => applyConfig(created, pod({ hostname: 'x' }), podOpts('b')), /conflict with "kubectl-edit" using v1 at 2026-01-01T00:00:00Z: \.spec\.hostname/);
  });

  test('force moves ownership to the applier', () => {
    const o = applyAll([['a', pod({ hostname: 'h', subdomain: 's' })], ['b', pod({ hostname: 'x' }), true]]);
    assert.deepEqual(owned(o, 'a'), { 'f:spec': { 'f:subdomain': {} } });
    assert.deepEqual(owned(o, 'b'), { 'f:spec': { 'f:hostname': {} } });
  });

  test('an apply that changes nothing keeps the entry time', () => {
    const first = applyConfig(undefined, pod({ hostname: 'h' }), podOpts('a'));
    const again = applyConfig(first, pod({ hostname: 'h' }), podOpts('a', { now: '2030-01-01T00:00:00Z' }));
    assert.equal(again.metadata.managedFields?.[0]?.time, now);
  });

  test('an object without managedFields gives its fields to before-first-apply', () => {
    const o = applyConfig(pod({ hostname: 'h' }), pod({ subdomain: 's' }), podOpts('a'));
    assert.deepEqual(managers(o), [['before-first-apply', 'Update'], ['a', 'Apply']]);
    assert.deepEqual(owned(o, 'before-first-apply'), { 'f:spec': { 'f:hostname': {} } });
  });

  test("kubectl's applies keep last-applied-configuration in step (keys sorted, as Go writes a map)", () => {
    const ann = 'kubectl.kubernetes.io/last-applied-configuration';
    const o = applyConfig(pod({}, { annotations: { [ann]: '{}' } }), pod({ hostname: 'h' }), podOpts('kubectl'));
    assert.equal(o.metadata.annotations![ann], '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"hostname":"h"}}\n');
    const other = applyConfig(pod({}, { annotations: { [ann]: '{}' } }), pod({ hostname: 'h' }), podOpts('a'));
    assert.equal(other.metadata.annotations![ann], '{}');
  });

  test('an applied configuration with managedFields is a BadRequest', () => {
    assert.throws(
      () => applyConfig(undefined, pod({}, { managedFields: [] }), podOpts('a')),
      (err) => isStatusError(err) && err.status.code === 400 && err.status.message === 'metadata.managedFields must be nil',
    );
  });
});

describe('moving from client-side to server-side apply', () => {
  const ann = 'kubectl.kubernetes.io/last-applied-configuration';
  /** What `kubectl apply` (client-side) leaves: the object, owned by kubectl-client-side-apply, with the annotation. */
  function clientSideApplied(hostname: string): KubeObject {
    const cfg = pod({ hostname });
    const created = pod({ hostname }, { annotations: { [ann]: JSON.stringify(cfg) } });
    return updateManagedFields(undefined, created, podOpts('kubectl-client-side-apply') as ManagedOptions);
  }

  test("kubectl's first server-side apply takes fields whose live values match last-applied", () => {
    const o = applyConfig(clientSideApplied('h'), pod({ hostname: 'h2' }), podOpts('kubectl'));
    assert.equal((o['spec'] as { hostname?: string }).hostname, 'h2');
    assert.deepEqual(owned(o, 'kubectl'), { 'f:spec': { 'f:hostname': {} } });
  });

  test('a field changed since the last client-side apply still conflicts', () => {
    const live = clientSideApplied('h');
    const edited = structuredClone(live);
    (edited['spec'] as { hostname: string }).hostname = 'edited';
    const next = updateManagedFields(live, edited, podOpts('kubectl-edit') as ManagedOptions);
    assert.throws(() => applyConfig(next, pod({ hostname: 'h2' }), podOpts('kubectl')), (err) => isStatusError(err) && err.status.code === 409);
  });

  test('other managers get no such allowance', () => {
    assert.throws(() => applyConfig(clientSideApplied('h'), pod({ hostname: 'h2' }), podOpts('mine')), (err) => isStatusError(err) && err.status.code === 409);
  });
});

describe('Update operations', () => {
  const u = (manager: string) => podOpts(manager) as ManagedOptions;

  test('a create gives every field to the writer, non-pointer structs without their own entry', () => {
    const o = updateManagedFields(undefined, pod({ containers: [ctr('web')], securityContext: {} }, { labels: { a: '1' } }), u('kubectl-create'));
    assert.deepEqual(o.metadata.managedFields, [
      {
        manager: 'kubectl-create',
        operation: 'Update',
        apiVersion: 'v1',
        time: now,
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { '.': {}, 'f:a': {} } },
          'f:spec': { 'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:image': {}, 'f:name': {} } }, 'f:securityContext': {} },
        },
      },
    ]);
  });

  test('a changed field moves to the updater, silently, even from an applier', () => {
    const applied = applyConfig(undefined, pod({ hostname: 'h', subdomain: 's' }), podOpts('a'));
    const next = structuredClone(applied);
    next.spec = { ...(next.spec as object), hostname: 'x' };
    const o = updateManagedFields(applied, next, u('kubectl-edit'));
    assert.deepEqual(owned(o, 'a'), { 'f:spec': { 'f:subdomain': {} } });
    assert.deepEqual(owned(o, 'kubectl-edit'), { 'f:spec': { 'f:hostname': {} } });
  });

  test('a removed field leaves every owner', () => {
    const applied = applyConfig(undefined, pod({ hostname: 'h', subdomain: 's' }), podOpts('a'));
    const next = structuredClone(applied);
    next.spec = { subdomain: 's' };
    assert.deepEqual(owned(updateManagedFields(applied, next, u('x')), 'a'), { 'f:spec': { 'f:subdomain': {} } });
  });

  test('an update of an object without managedFields records nothing (tracking starts at create or apply)', () => {
    const old = pod({ hostname: 'h' });
    assert.equal(updateManagedFields(old, pod({ hostname: 'x' }), u('b')).metadata.managedFields, undefined);
  });

  test('status writes of a status-split kind track only status', () => {
    const old = updateManagedFields(undefined, pod({ hostname: 'h' }), u('a'));
    const next = { ...structuredClone(old), status: { phase: 'Running' } };
    const o = updateManagedFields(old, next, { ...u('kubelet'), subresource: 'status' });
    assert.deepEqual(o.metadata.managedFields?.filter((m) => m.manager === 'kubelet').map((m) => [m.manager, m.subresource, m.fieldsV1]), [['kubelet', 'status', { 'f:status': { 'f:phase': {} } }]]);
  });

  test('managedFields the writer sets are taken as given', () => {
    const old = updateManagedFields(undefined, pod({ hostname: 'h' }), u('a'));
    const given = [{ manager: 'z', operation: 'Apply' as const, apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:hostname': {} } } }];
    assert.deepEqual(managers(updateManagedFields(old, { ...structuredClone(old), metadata: { ...old.metadata, managedFields: given } }, u('b'))), [['z', 'Apply']]);
  });

  const resets: [string, unknown[]][] = [
    ['a list of one empty entry', [{}]],
    ['an empty list', []],
  ];
  for (const [what, list] of resets) {
    test(`${what} resets managedFields, and later updates are not tracked`, () => {
      const old = updateManagedFields(undefined, pod({ hostname: 'h' }), u('a'));
      const reset = updateManagedFields(old, { ...structuredClone(old), metadata: { ...old.metadata, managedFields: list as never } }, u('b'));
      assert.equal(reset.metadata.managedFields, undefined);
      const next = { ...structuredClone(reset), spec: { hostname: 'x' } };
      assert.equal(updateManagedFields(reset, next, u('c')).metadata.managedFields, undefined);
    });
  }

  test('malformed managedFields in a write are ignored: the stored ones stay', () => {
    const old = updateManagedFields(undefined, pod({ hostname: 'h' }), u('a'));
    const bad = { ...structuredClone(old), metadata: { ...old.metadata, managedFields: [{ manager: 'z', operation: 'Patch' as never }] } };
    assert.deepEqual(managers(updateManagedFields(old, bad, u('b'))), [['a', 'Update']]);
  });

  test('a subresource write cannot set managedFields', () => {
    const old = updateManagedFields(undefined, pod({ hostname: 'h' }), u('a'));
    const next = { ...structuredClone(old), metadata: { ...old.metadata, managedFields: [{}] as never }, status: { phase: 'Running' } };
    assert.deepEqual(managers(updateManagedFields(old, next, { ...u('kubelet'), subresource: 'status' })), [['a', 'Update'], ['kubelet', 'Update']]);
  });

  test('more than ten Update managers fold the oldest into ancient-changes', () => {
    let o = updateManagedFields(undefined, pod({}, { labels: { base: 'x' } }), u('creator'));
    for (let i = 0; i < 12; i++) {
      const next = structuredClone(o);
      next.metadata.labels = { ...next.metadata.labels, [`l${i}`]: 'x' };
      o = updateManagedFields(o, next, { ...u(`m${i}`), now: `2026-01-01T00:00:${String(10 + i)}Z` });
    }
    const names = managers(o).map(([m]) => m);
    assert.equal(names.length, 10);
    assert.ok(names.includes('ancient-changes'));
    assert.ok(!names.includes('m0') && !names.includes('m1'));
    assert.ok(names.includes('m11'));
  });
});

describe('field sets', () => {
  test('FieldsV1 round-trips', () => {
    const v1 = { 'f:metadata': { 'f:labels': { '.': {}, 'f:a': {} } }, 'f:spec': { 'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:image': {} } } } };
    assert.deepEqual(encodeFieldsV1(decodeFieldsV1(v1)), v1);
  });

  test('a malformed FieldsV1 is a BadRequest', () => {
    assert.throws(() => decodeFieldsV1({ 'x:bad': {} }), (err) => isStatusError(err) && err.status.code === 400);
  });

  test('set items are v: elements', () => {
    assert.deepEqual(encodeFieldsV1(fieldSetOf(pod({}, { finalizers: ['a.io/x'] }), 'core.v1.Pod')), { 'f:metadata': { 'f:finalizers': { 'v:"a.io/x"': {} }, 'f:name': {} }, 'f:spec': {} });
  });

  const paths: [string[], string][] = [
    [['f:spec', 'f:replicas'], '.spec.replicas'],
    [['f:spec', 'f:containers', 'k:{"name":"web"}', 'f:image'], '.spec.containers[name="web"].image'],
    [['f:spec', 'f:ports', 'k:{"containerPort":53,"protocol":"UDP"}'], '.spec.ports[containerPort=53,protocol="UDP"]'],
    [['f:metadata', 'f:finalizers', 'v:"a.io/x"'], '.metadata.finalizers[="a.io/x"]'],
    [['f:spec', 'f:args', 'i:2'], '.spec.args[2]'],
  ];
  for (const [p, want] of paths) test(`path ${want} is printed as upstream`, () => assert.equal(formatPath(p), want));
});

describe('pruning after an ownership migration', () => {
  test('a struct field the applier owned as a whole stays while its applied entries are owned', () => {
    // kubectl's csaupgrade gives the Apply entry the client-side entry's set: f:data itself and its keys.
    const cm = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data });
    const live = cm({ key: 'two', other: 'same' });
    live.metadata.managedFields = [{ manager: 'kubectl', operation: 'Apply', apiVersion: 'v1', time: now, fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { '.': {}, 'f:key': {}, 'f:other': {} } } }];
    const opts = { ...podOpts('kubectl'), typeName: 'core.v1.ConfigMap', statusSplit: false, gk: { group: '', kind: 'ConfigMap' } };
    assert.deepEqual(applyConfig(structuredClone(live), cm({ key: 'three', other: 'same' }), opts).data, { key: 'three', other: 'same' });
    assert.deepEqual(applyConfig(structuredClone(live), cm({ key: 'three' }), opts).data, { key: 'three' });
    assert.equal(applyConfig(structuredClone(live), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }, opts).data, undefined);
  });
});

describe('field sets written back as they were read', () => {
  const u = (manager: string) => podOpts(manager) as ManagedOptions;

  test("decodeFieldsV1Form knows the encoder's own form", () => {
    for (const json of [{}, { 'f:a': {} }, { '.': {}, 'f:a': {}, 'f:b': { 'k:{"x":1}': {} } }]) {
      const { set, normal } = decodeFieldsV1Form(json);
      assert.equal(normal, true, JSON.stringify(json));
      assert.equal(JSON.stringify(encodeFieldsV1(set)), JSON.stringify(json));
    }
    for (const json of [{ 'f:b': {}, 'f:a': {} }, { '.': {} }, { '.': { x: 1 }, 'f:a': {} }, { 'f:a': { 'f:c': {}, 'f:b': {} } }]) {
      const { set, normal } = decodeFieldsV1Form(json);
      assert.equal(normal, false, JSON.stringify(json));
      assert.deepEqual(set, decodeFieldsV1(json));
    }
  });

  test('an update keeps the field sets it does not touch (the same objects), re-encodes the ones it changes, and puts any other form in order', () => {
    const applied = applyConfig(undefined, pod({ hostname: 'h', subdomain: 's' }, { labels: { a: '1' } }), podOpts('a'));
    const edited = structuredClone(applied);
    (edited['spec'] as { hostname: string }).hostname = 'x';
    const mid = updateManagedFields(applied, edited, u('b'));
    const next = structuredClone(mid);
    next.metadata.labels = { a: '1', c: '3' };
    const kept = next.metadata.managedFields!.find((e) => e.manager === 'b')!.fieldsV1;
    const o = updateManagedFields(mid, next, u('c'));
    assert.equal(o.metadata.managedFields!.find((e) => e.manager === 'b')!.fieldsV1, kept, 'untouched: written back as read');
    assert.deepEqual(owned(o, 'a'), { 'f:metadata': { 'f:labels': { 'f:a': {} } }, 'f:spec': { 'f:subdomain': {} } });
    assert.deepEqual(owned(o, 'c'), { 'f:metadata': { 'f:labels': { 'f:c': {} } } });
    // Out of order as given: encoded again, in order.
    const shuffled = structuredClone(o);
    const entryA = shuffled.metadata.managedFields!.find((e) => e.manager === 'a')!;
    entryA.fieldsV1 = { 'f:spec': { 'f:subdomain': {} }, 'f:metadata': { 'f:labels': { 'f:a': {} } } };
    const again = structuredClone(shuffled);
    (again['spec'] as { hostname: string }).hostname = 'y';
    const out = updateManagedFields(shuffled, again, u('b'));
    assert.equal(JSON.stringify(out.metadata.managedFields!.find((e) => e.manager === 'a')!.fieldsV1), JSON.stringify({ 'f:metadata': { 'f:labels': { 'f:a': {} } }, 'f:spec': { 'f:subdomain': {} } }));
  });
});

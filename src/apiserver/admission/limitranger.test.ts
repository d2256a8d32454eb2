import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, LimitRange, LimitRangeItem, PersistentVolumeClaim, Pod } from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import type { Operation, ResourceDef } from '../../api/resource.ts';
import { builtinResources } from '../../api/groups/index.ts';
import { isForbidden, StatusError } from '../../api/errors.ts';
import { limitRangerAnnotation, limitRangerPlugin } from './limitranger.ts';
import type { AdmissionAttributes } from './types.ts';

const def = (plural: string): ResourceDef => builtinResources.find((r) => r.group === '' && r.plural === plural)!;
const obj = <T>(o: T) => o as unknown as KubeObject;
const user = { username: 'alice', groups: ['system:authenticated'] };

function attrs(plural: string, o: Pod | PersistentVolumeClaim, x: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return { operation: 'CREATE' as Operation, def: def(plural), version: 'v1', namespace: 'ns', name: o.metadata.name ?? '', subresource: '', object: obj(o), user, dryRun: false, ...x };
}

const ctr = (name: string, requests?: Record<string, string>, limits?: Record<string, string>): Container =>
  requests || limits ? { name, image: 'i', resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) } } : { name, image: 'i' };
const pod = (containers: Container[], initContainers?: Container[]): Pod => ({ metadata: { name: 'p', namespace: 'ns' }, spec: { containers, ...(initContainers ? { initContainers } : {}) } });
const lr = (...limits: LimitRangeItem[]): LimitRange => ({ metadata: { name: 'limits', namespace: 'ns' }, spec: { limits } });
const plugin = (...ranges: LimitRange[]) => limitRangerPlugin({ limitRanges: (ns) => (ns === 'ns' ? ranges : []) });

function refusal(ranges: LimitRange[], a: AdmissionAttributes): string | undefined {
  try {
    plugin(...ranges).validate!(a);
  } catch (err) {
    assert.ok(err instanceof StatusError && isForbidden(err), String(err));
    return err.message;
  }
  return undefined;
}

// ---- defaults -------------------------------------------------------------------------------------

const defaults = lr({ type: 'Container', default: { cpu: '500m', memory: '256Mi' }, defaultRequest: { cpu: '100m', memory: '128Mi' } });

test('containers and init containers get the Container defaults, and the pod says so', () => {
  const p = pod([ctr('app'), ctr('web', { cpu: '200m' }, { memory: '1Gi' })], [ctr('init')]);
  plugin(defaults).admit!(attrs('pods', p));
  assert.deepEqual(p.spec!.containers[0]!.resources, { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
  assert.deepEqual(p.spec!.containers[1]!.resources, { requests: { cpu: '200m', memory: '128Mi' }, limits: { memory: '1Gi', cpu: '500m' } });
  assert.deepEqual(p.spec!.initContainers![0]!.resources, { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
  assert.equal(
    p.metadata.annotations?.[limitRangerAnnotation],
    'LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app; memory request for container web; cpu limit for container web; cpu, memory request for init container init; cpu, memory limit for init container init',
  );
});

test('defaults are written canonically', () => {
  const p = pod([ctr('app')]);
  plugin(lr({ type: 'Container', default: { cpu: '1000m' }, defaultRequest: { memory: '1024Mi' } })).admit!(attrs('pods', p));
  assert.deepEqual(p.spec!.containers[0]!.resources, { limits: { cpu: '1' }, requests: { memory: '1Gi' } });
});

test('a pod that sets everything is left as it is, without the annotation', () => {
  const p = pod([ctr('app', { cpu: '1', memory: '1Gi' }, { cpu: '1', memory: '1Gi' })]);
  const before = structuredClone(p);
  plugin(defaults).admit!(attrs('pods', p));
  assert.deepEqual(p, before);
});

test('pod updates are not defaulted', () => {
  const p = pod([ctr('app')]);
  plugin(defaults).admit!(attrs('pods', p, { operation: 'UPDATE', oldObject: obj(p) }));
  assert.equal(p.spec!.containers[0]!.resources, undefined);
});

test('defaults then checks: a defaulted pod passes the range that defaulted it', () => {
  const range = lr({ type: 'Container', max: { cpu: '1' }, default: { cpu: '500m' }, defaultRequest: { cpu: '250m' } });
  const a = attrs('pods', pod([ctr('app')]));
  plugin(range).admit!(a);
  plugin(range).validate!(a);
});

// ---- refusals -------------------------------------------------------------------------------------

const container = (x: Partial<LimitRangeItem>) => lr({ type: 'Container', ...x });
const refusals: { name: string; ranges: LimitRange[]; pod: Pod; want: string | undefined }[] = [
  { name: 'a limit over max', ranges: [container({ max: { cpu: '2' } })], pod: pod([ctr('app', { cpu: '1' }, { cpu: '3' })]), want: 'maximum cpu usage per Container is 2, but limit is 3' },
  { name: 'no limit under a max', ranges: [container({ max: { memory: '1Gi' } })], pod: pod([ctr('app', { memory: '1Gi' })]), want: 'maximum memory usage per Container is 1Gi.  No limit is specified' },
  { name: 'a request over max', ranges: [container({ max: { cpu: '2' } })], pod: pod([ctr('app', { cpu: '2500m' }, { cpu: '2' })]), want: 'maximum cpu usage per Container is 2, but request is 2500m' },
  { name: 'a request under min', ranges: [container({ min: { cpu: '100m' } })], pod: pod([ctr('app', { cpu: '50m' })]), want: 'minimum cpu usage per Container is 100m, but request is 50m' },
  { name: 'no request over a min', ranges: [container({ min: { cpu: '100m' } })], pod: pod([ctr('app')]), want: 'minimum cpu usage per Container is 100m.  No request is specified' },
  { name: 'a limit under min', ranges: [container({ min: { memory: '64Mi' } })], pod: pod([ctr('app', { memory: '64Mi' }, { memory: '32Mi' })]), want: 'minimum memory usage per Container is 64Mi, but limit is 32Mi' },
  { name: 'a ratio over maxLimitRequestRatio', ranges: [container({ maxLimitRequestRatio: { cpu: '2' } })], pod: pod([ctr('app', { cpu: '250m' }, { cpu: '1' })]), want: 'cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000' },
  { name: 'a ratio without a request', ranges: [container({ maxLimitRequestRatio: { cpu: '2' } })], pod: pod([ctr('app', undefined, { cpu: '1' })]), want: 'cpu max limit to request ratio per Container is 2, but no request is specified or request is 0' },
  { name: 'a ratio without a limit', ranges: [container({ maxLimitRequestRatio: { cpu: '2' } })], pod: pod([ctr('app', { cpu: '1' })]), want: 'cpu max limit to request ratio per Container is 2, but no limit is specified or limit is 0' },
  { name: 'a ratio within bounds', ranges: [container({ maxLimitRequestRatio: { cpu: '1500m' } })], pod: pod([ctr('app', { cpu: '1' }, { cpu: '1500m' })]), want: undefined },
  { name: 'init containers are checked too', ranges: [container({ max: { cpu: '2' } })], pod: pod([ctr('app', undefined, { cpu: '1' })], [ctr('init', undefined, { cpu: '4' })]), want: 'maximum cpu usage per Container is 2, but limit is 4' },
  {
    name: 'several failures together, as upstream aggregates them',
    ranges: [container({ max: { cpu: '2', memory: '1Gi' } })],
    pod: pod([ctr('a', undefined, { cpu: '3', memory: '2Gi' }), ctr('b', undefined, { cpu: '3', memory: '512Mi' })]),
    want: '[maximum cpu usage per Container is 2, but limit is 3, maximum memory usage per Container is 1Gi, but limit is 2Gi]',
  },
  { name: 'a Pod item bounds the sum of the containers', ranges: [lr({ type: 'Pod', max: { cpu: '2' } })], pod: pod([ctr('a', undefined, { cpu: '1500m' }), ctr('b', undefined, { cpu: '1' })]), want: 'maximum cpu usage per Pod is 2, but limit is 2500m' },
  { name: 'a Pod item with room', ranges: [lr({ type: 'Pod', max: { cpu: '3' }, min: { cpu: '100m' } })], pod: pod([ctr('a', { cpu: '1' }, { cpu: '1500m' }), ctr('b', { cpu: '1' }, { cpu: '1' })]), want: undefined },
  { name: 'a Pod item min with no request', ranges: [lr({ type: 'Pod', min: { memory: '1Mi' } })], pod: pod([ctr('a')]), want: 'minimum memory usage per Pod is 1Mi.  No request is specified' },
  { name: 'the first LimitRange that fails decides', ranges: [container({ max: { cpu: '4' } }), container({ max: { cpu: '2' } })], pod: pod([ctr('a', undefined, { cpu: '3' })]), want: 'maximum cpu usage per Container is 2, but limit is 3' },
  { name: 'quantities compare by value, print canonically', ranges: [container({ max: { cpu: '2000m' } })], pod: pod([ctr('a', undefined, { cpu: '2.5' })]), want: 'maximum cpu usage per Container is 2, but limit is 2500m' },
];
for (const c of refusals) {
  test(`pods: ${c.name}`, () => assert.equal(refusal(c.ranges, attrs('pods', c.pod)), c.want === undefined ? undefined : `pods "p" is forbidden: ${c.want}`));
}

test('pod updates are not checked, the resize subresource is', () => {
  const range = container({ max: { cpu: '2' } });
  const p = pod([ctr('app', undefined, { cpu: '3' })]);
  assert.equal(refusal([range], attrs('pods', p, { operation: 'UPDATE', oldObject: obj(p) })), undefined);
  assert.equal(refusal([range], attrs('pods', p, { operation: 'UPDATE', oldObject: obj(p), subresource: 'resize' })), 'pods "p" is forbidden: maximum cpu usage per Container is 2, but limit is 3');
  assert.equal(refusal([range], attrs('pods', p, { operation: 'UPDATE', oldObject: obj(p), subresource: 'status' })), undefined);
});

test('a pod named by generateName is refused under that name', () => {
  const p = { ...pod([ctr('app', undefined, { cpu: '3' })]), metadata: { generateName: 'web-', namespace: 'ns' } };
  assert.equal(refusal([container({ max: { cpu: '2' } })], attrs('pods', p)), 'pods "web-" is forbidden: maximum cpu usage per Container is 2, but limit is 3');
});

// ---- claims ---------------------------------------------------------------------------------------

const claim = (storage?: string, x: Partial<PersistentVolumeClaim['metadata']> = {}): PersistentVolumeClaim => ({
  metadata: { name: 'data', namespace: 'ns', ...x },
  spec: { resources: storage ? { requests: { storage } } : {} },
});
const claims = lr({ type: 'PersistentVolumeClaim', min: { storage: '1Gi' }, max: { storage: '10Gi' } });
const claimCases: { name: string; claim: PersistentVolumeClaim; op?: Operation; want: string | undefined }[] = [
  { name: 'within bounds', claim: claim('5Gi'), want: undefined },
  { name: 'under min', claim: claim('500Mi'), want: 'minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi' },
  { name: 'over max', claim: claim('20Gi'), want: 'maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi' },
  { name: 'an expansion over max', claim: claim('11Gi'), op: 'UPDATE', want: 'maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 11Gi' },
  {
    name: 'no request',
    claim: claim(),
    want: '[minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified, maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified]',
  },
];
for (const c of claimCases) {
  test(`claims: ${c.name}`, () => {
    const a = attrs('persistentvolumeclaims', c.claim, c.op === 'UPDATE' ? { operation: 'UPDATE', oldObject: obj(claim('5Gi')) } : {});
    assert.equal(refusal([claims], a), c.want === undefined ? undefined : `persistentvolumeclaims "data" is forbidden: ${c.want}`);
  });
}

test('a claim being deleted is not checked', () => {
  const a = attrs('persistentvolumeclaims', claim('20Gi'), { operation: 'UPDATE', oldObject: obj(claim('20Gi', { deletionTimestamp: '2025-01-01T00:00:00Z' })) });
  assert.equal(refusal([claims], a), undefined);
});

test('Container items do not apply to claims, claim items not to pods', () => {
  assert.equal(refusal([container({ max: { storage: '1Gi' } })], attrs('persistentvolumeclaims', claim('5Gi'))), undefined);
  assert.equal(refusal([claims], attrs('pods', pod([ctr('app')]))), undefined);
});

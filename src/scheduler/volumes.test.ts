/**
 * VolumeBinding (volumes.ts) over an in-memory handle: PreFilter's claim checks and Filter's
 * per-node reasons as tables, then PreBind: a static volume bound and the wait ended by the PV
 * controller's work (simulated here), the decisions assumed before the first await so the next
 * pod cannot take the same volume, provisioning through the selected node, and upstream's
 * failures (timeout, provisioning given back, pod gone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../api/index.ts';
import { emptyHandle, nodeInfo } from './plugins.ts';
import { topologyAdmitsNode, volumeBindingPlugin, type VolumeBindingHandle } from './volumes.ts';

// ---- fixtures ----------------------------------------------------------------------------------

const node = (name: string, zone = 'a'): Node => ({ metadata: { name, labels: { 'kubernetes.io/hostname': name, zone } } });
const nodes = [node('n1', 'a'), node('n2', 'b'), node('n3', 'b')];

const cls = (name: string, provisioner: string, o: Partial<StorageClass> = {}): StorageClass => ({ metadata: { name }, provisioner, volumeBindingMode: 'WaitForFirstConsumer', ...o });
const classes: Record<string, StorageClass> = {
  local: cls('local', 'kubernetes.io/no-provisioner'),
  dyn: cls('dyn', 'example.com/dyn'),
  zoned: cls('zoned', 'example.com/dyn', { allowedTopologies: [{ matchLabelExpressions: [{ key: 'zone', values: ['b'] }] }] }),
  now: cls('now', 'example.com/dyn', { volumeBindingMode: 'Immediate' }),
};

let rv = 10;
const claim = (name: string, o: { cls?: string; volumeName?: string; bound?: boolean; phase?: string; size?: string; owner?: string; deleting?: boolean; selected?: string } = {}): PersistentVolumeClaim => ({
  metadata: {
    name,
    namespace: 'd',
    uid: `uid-${name}`,
    resourceVersion: String(rv++),
    annotations: { ...(o.bound ? { 'pv.kubernetes.io/bind-completed': 'yes' } : {}), ...(o.selected ? { 'volume.kubernetes.io/selected-node': o.selected } : {}) },
    ...(o.owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: o.owner, controller: true }] } : {}),
    ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
  },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: o.size ?? '1Gi' } }, storageClassName: o.cls ?? 'local', ...(o.volumeName ? { volumeName: o.volumeName } : {}) },
  status: { phase: o.phase ?? (o.bound ? 'Bound' : 'Pending') },
});
const localPv = (name: string, on: string, o: { size?: string; cls?: string; claimRef?: { namespace: string; name: string; uid?: string } } = {}): PersistentVolume => ({
  metadata: { name, resourceVersion: String(rv++) },
  spec: {
    capacity: { storage: o.size ?? '1Gi' },
    accessModes: ['ReadWriteOnce'],
    storageClassName: o.cls ?? 'local',
    local: { path: `/mnt/${name}` },
    nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [on] }] }] } },
    ...(o.claimRef ? { claimRef: o.claimRef } : {}),
  },
  status: { phase: 'Available' },
});
const pod = (uid: string, ...vols: ({ claim: string } | { ephemeral: string })[]): Pod => ({
  metadata: { name: 'p', namespace: 'd', uid },
  spec: { containers: [{ name: 'c' }], volumes: vols.map((v) => ('claim' in v ? { name: v.claim, persistentVolumeClaim: { claimName: v.claim } } : { name: v.ephemeral, ephemeral: { volumeClaimTemplate: { spec: {} } } })) },
});

/** An in-memory cluster behind the binder handle; `onWrite` plays the PV controller. */
function cluster(claims: PersistentVolumeClaim[], volumes: PersistentVolume[]) {
  const c = new Map(claims.map((x) => [x.metadata.name!, x]));
  const v = new Map(volumes.map((x) => [x.metadata.name!, x]));
  const waiters = new Set<() => void>();
  const podsAlive = new Set<string>(['uid-pod', 'uid-a', 'uid-b']);
  const writes: string[] = [];
  const changed = () => {
    for (const w of [...waiters]) w();
  };
  const state = {
    claims: c,
    volumes: v,
    writes,
    podsAlive,
    onWrite: (_kind: 'pv' | 'pvc', _name: string) => {},
    changed,
    setClaim(x: PersistentVolumeClaim) {
      c.set(x.metadata.name!, { ...x, metadata: { ...x.metadata, resourceVersion: String(rv++) } });
      changed();
    },
  };
  const handle: VolumeBindingHandle = {
    ...emptyHandle,
    persistentVolumeClaim: (_ns, name) => c.get(name),
    persistentVolume: (name) => v.get(name),
    storageClass: (name) => classes[name],
    persistentVolumesOfClass: (name) => [...v.values()].filter((x) => (x.spec?.storageClassName ?? '') === name),
    node: (name) => nodes.find((n) => n.metadata.name === name),
    podExists: (p) => podsAlive.has(p.metadata.uid ?? ''),
    async updateVolume(pv) {
      const saved = { ...pv, metadata: { ...pv.metadata, resourceVersion: String(rv++) } };
      v.set(pv.metadata.name!, saved);
      writes.push(`pv ${pv.metadata.name} -> ${pv.spec?.claimRef?.name}/${pv.spec?.claimRef?.uid}`);
      queueMicrotask(() => state.onWrite('pv', pv.metadata.name!));
      return saved;
    },
    async updateClaim(pvc) {
      const saved = { ...pvc, metadata: { ...pvc.metadata, resourceVersion: String(rv++) } };
      c.set(pvc.metadata.name!, saved);
      writes.push(`pvc ${pvc.metadata.name} selected-node=${pvc.metadata.annotations?.['volume.kubernetes.io/selected-node']}`);
      queueMicrotask(() => state.onWrite('pvc', pvc.metadata.name!));
      return saved;
    },
    storageChanged(signal, ms) {
      return new Promise((resolve) => {
        const done = () => {
          waiters.delete(done);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(done, ms);
        waiters.add(done);
        if (signal.aborted) done();
        else signal.addEventListener('abort', done, { once: true });
      });
    },
  };
  return { handle, state };
}

/** Filter reasons of a pod over the three nodes (null: fits). */
function filterAll(plugin: ReturnType<typeof volumeBindingPlugin>, p: Pod): (string | null)[] {
  const infos = nodes.map((n) => nodeInfo(n, []));
  const st = plugin.preFilter!(p, infos);
  return infos.map((i) => plugin.filter!(p, i, st)?.reason ?? null);
}

// ---- PreFilter -----------------------------------------------------------------------------------

const checkCases: { name: string; claims: PersistentVolumeClaim[]; pod: Pod; want: string | null }[] = [
  { name: 'a pod without claims', claims: [], pod: pod('uid-pod'), want: null },
  { name: 'a missing claim', claims: [], pod: pod('uid-pod', { claim: 'data' }), want: 'persistentvolumeclaim "data" not found' },
  { name: 'a missing ephemeral claim', claims: [], pod: pod('uid-pod', { ephemeral: 'cache' }), want: 'waiting for ephemeral volume controller to create the persistentvolumeclaim "p-cache"' },
  { name: 'an ephemeral claim of another pod', claims: [claim('p-cache', { owner: 'someone' })], pod: pod('uid-pod', { ephemeral: 'cache' }), want: 'PVC d/p-cache was not created for pod d/p (pod is not owner)' },
  { name: 'an ephemeral claim of the pod', claims: [claim('p-cache', { owner: 'uid-pod' })], pod: pod('uid-pod', { ephemeral: 'cache' }), want: null },
  { name: 'a Lost claim', claims: [claim('data', { volumeName: 'gone', bound: true, phase: 'Lost' })], pod: pod('uid-pod', { claim: 'data' }), want: 'persistentvolumeclaim "data" bound to non-existent persistentvolume "gone"' },
  { name: 'a claim being deleted', claims: [claim('data', { deleting: true })], pod: pod('uid-pod', { claim: 'data' }), want: 'persistentvolumeclaim "data" is being deleted' },
  { name: 'an unbound Immediate claim', claims: [claim('data', { cls: 'now' })], pod: pod('uid-pod', { claim: 'data' }), want: 'pod has unbound immediate PersistentVolumeClaims' },
  { name: 'a claim naming a volume, not yet bound by the controller', claims: [claim('data', { volumeName: 'v' })], pod: pod('uid-pod', { claim: 'data' }), want: 'pod has unbound immediate PersistentVolumeClaims' },
  { name: 'an unbound WaitForFirstConsumer claim', claims: [claim('data')], pod: pod('uid-pod', { claim: 'data' }), want: null },
  { name: 'a fully bound claim', claims: [claim('data', { volumeName: 'v', bound: true })], pod: pod('uid-pod', { claim: 'data' }), want: null },
];
for (const c of checkCases) {
  test(`PreFilter: ${c.name}`, () => assert.equal(volumeBindingPlugin(cluster(c.claims, []).handle).check!(c.pod), c.want));
}

// ---- Filter ------------------------------------------------------------------------------------

const conflict = "node(s) didn't find available persistent volumes to bind";
const affinity = "node(s) didn't match PersistentVolume's node affinity";
const filterCases: { name: string; claims: PersistentVolumeClaim[]; volumes: PersistentVolume[]; pod: Pod; want: (string | null)[] }[] = [
  { name: 'a bound claim keeps the pod on its volume’s node', claims: [claim('data', { volumeName: 'v2', bound: true })], volumes: [localPv('v2', 'n2')], pod: pod('uid-pod', { claim: 'data' }), want: [affinity, null, affinity] },
  {
    name: 'a claim bound to a missing volume',
    claims: [claim('data', { volumeName: 'nope', bound: true })],
    volumes: [],
    pod: pod('uid-pod', { claim: 'data' }),
    want: Array(3).fill('node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)'),
  },
  { name: 'a local claim fits only where a matching volume is', claims: [claim('data', { size: '2Gi' })], volumes: [localPv('small', 'n1'), localPv('big', 'n3', { size: '5Gi' })], pod: pod('uid-pod', { claim: 'data' }), want: [conflict, conflict, null] },
  { name: 'no volume at all and no provisioner', claims: [claim('data')], volumes: [], pod: pod('uid-pod', { claim: 'data' }), want: [conflict, conflict, conflict] },
  { name: 'a provisioner can make it anywhere', claims: [claim('data', { cls: 'dyn' })], volumes: [], pod: pod('uid-pod', { claim: 'data' }), want: [null, null, null] },
  { name: 'allowedTopologies limit provisioning', claims: [claim('data', { cls: 'zoned' })], volumes: [], pod: pod('uid-pod', { claim: 'data' }), want: [conflict, null, null] },
  { name: 'a claim already given a node fits only there', claims: [claim('data', { cls: 'dyn', selected: 'n2' })], volumes: [], pod: pod('uid-pod', { claim: 'data' }), want: [conflict, null, conflict] },
  {
    name: 'two claims need two volumes on the node',
    claims: [claim('a'), claim('b')],
    volumes: [localPv('a1', 'n1'), localPv('b1', 'n2'), localPv('b2', 'n2')],
    pod: pod('uid-pod', { claim: 'a' }, { claim: 'b' }),
    want: [conflict, null, conflict],
  },
  { name: 'a volume taken by another claim is not offered', claims: [claim('data')], volumes: [localPv('v', 'n1', { claimRef: { namespace: 'd', name: 'other', uid: 'x' } })], pod: pod('uid-pod', { claim: 'data' }), want: [conflict, conflict, conflict] },
];
for (const c of filterCases) {
  test(`Filter: ${c.name}`, () => assert.deepEqual(filterAll(volumeBindingPlugin(cluster(c.claims, c.volumes).handle), c.pod), c.want));
}

test('allowedTopologies: none admit all, an empty term admits nothing', () => {
  assert.equal(topologyAdmitsNode(undefined, nodes[0]!), true);
  assert.equal(topologyAdmitsNode([{}], nodes[0]!), false);
  assert.equal(topologyAdmitsNode([{ matchLabelExpressions: [{ key: 'zone', values: ['a'] }] }], nodes[0]!), true);
});

// ---- PreBind -----------------------------------------------------------------------------------

test('PreBind binds the chosen volume and waits until the PV controller has bound the claim', async () => {
  const { handle, state } = cluster([claim('data')], [localPv('v1', 'n1'), localPv('v2', 'n2')]);
  // The PV controller: once the volume names the claim, the claim is bound to it.
  state.onWrite = (kind, name) => {
    if (kind !== 'pv') return;
    setTimeout(() => {
      const c = state.claims.get('data')!;
      state.setClaim({ ...c, metadata: { ...c.metadata, annotations: { ...c.metadata.annotations, 'pv.kubernetes.io/bind-completed': 'yes' } }, spec: { ...c.spec, volumeName: name } });
    }, 50);
  };
  const plugin = volumeBindingPlugin(handle);
  const p = pod('uid-pod', { claim: 'data' });
  await plugin.preBind!(p, 'n2', new AbortController().signal);
  assert.deepEqual(state.writes, ['pv v2 -> data/uid-data']);
  assert.equal(state.volumes.get('v2')!.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
});

test('PreBind assumes its choice before its first await: the next pod cannot take the volume', async () => {
  const { handle, state } = cluster([claim('a'), claim('b')], [localPv('only', 'n1')]);
  const plugin = volumeBindingPlugin(handle);
  state.onWrite = () => {};
  const ac = new AbortController();
  const first = plugin.preBind!(pod('uid-a', { claim: 'a' }), 'n1', ac.signal);
  // Synchronously after the call, before the write resolved.
  assert.deepEqual(filterAll(plugin, pod('uid-b', { claim: 'b' })), [conflict, conflict, conflict]);
  ac.abort();
  await assert.rejects(first, /binding volumes: context canceled/);
});

test('PreBind gives a claim to provision the selected node and waits for its volume', async () => {
  const { handle, state } = cluster([claim('data', { cls: 'dyn' })], []);
  state.onWrite = (kind) => {
    if (kind !== 'pvc') return;
    setTimeout(() => {
      state.volumes.set('pvc-new', localPv('pvc-new', 'n3', { cls: 'dyn', claimRef: { namespace: 'd', name: 'data', uid: 'uid-data' } }));
      const c = state.claims.get('data')!;
      state.setClaim({ ...c, metadata: { ...c.metadata, annotations: { ...c.metadata.annotations, 'pv.kubernetes.io/bind-completed': 'yes' } }, spec: { ...c.spec, volumeName: 'pvc-new' } });
    }, 50);
  };
  await volumeBindingPlugin(handle).preBind!(pod('uid-pod', { claim: 'data' }), 'n3', new AbortController().signal);
  assert.deepEqual(state.writes, ['pvc data selected-node=n3']);
});

test('PreBind fails as upstream: timeout, provisioning given back, pod gone', async () => {
  const signal = new AbortController().signal;
  {
    const { handle } = cluster([claim('data', { cls: 'dyn' })], []);
    await assert.rejects(volumeBindingPlugin(handle, { bindTimeoutSeconds: 0.2 }).preBind!(pod('uid-pod', { claim: 'data' }), 'n1', signal), { message: 'binding volumes: context deadline exceeded' });
  }
  {
    const { handle, state } = cluster([claim('data', { cls: 'dyn' })], []);
    // The provisioner failed and removed the selected node (upstream rescheduleProvisioning).
    state.onWrite = () =>
      setTimeout(() => {
        const c = state.claims.get('data')!;
        state.setClaim({ ...c, metadata: { ...c.metadata, annotations: {} } });
      }, 20);
    await assert.rejects(volumeBindingPlugin(handle).preBind!(pod('uid-pod', { claim: 'data' }), 'n1', signal), { message: 'binding volumes: provisioning failed for PVC "data"' });
  }
  {
    const { handle, state } = cluster([claim('data', { cls: 'dyn' })], []);
    state.onWrite = () =>
      setTimeout(() => {
        state.podsAlive.delete('uid-pod');
        state.changed();
      }, 20);
    await assert.rejects(volumeBindingPlugin(handle).preBind!(pod('uid-pod', { claim: 'data' }), 'n1', signal), /^Error: binding volumes: pod does not exist any more/);
  }
});

test('without the binder’s handle PreBind only records the node on claims to provision', async () => {
  const patched: string[] = [];
  const { handle } = cluster([claim('later', { cls: 'dyn' }), claim('bound', { volumeName: 'v', bound: true })], [localPv('v', 'n1')]);
  const legacy: VolumeBindingHandle = { ...emptyHandle, persistentVolumeClaim: handle.persistentVolumeClaim, persistentVolume: handle.persistentVolume, storageClass: handle.storageClass, patchClaim: async (ns, name, a) => void patched.push(`${ns}/${name} ${JSON.stringify(a)}`) };
  await volumeBindingPlugin(legacy).preBind!(pod('uid-pod', { claim: 'bound' }, { claim: 'later' }), 'n1', new AbortController().signal);
  assert.deepEqual(patched, ['d/later {"volume.kubernetes.io/selected-node":"n1"}']);
});

/**
 * Issue 11, "Updates, patches and apply", end to end against `bin/bosun server`: what a real
 * client sends back on update (timestamps with milliseconds, resourceVersion "0", managedFields
 * resets), JSON patches that test the resourceVersion, kubectl's move from client-side to
 * server-side apply (1.27 and 1.33), the immutable pod QoS class, the CSR requester, and list
 * pagination edge values.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ensureServiceAccount, useServer, kubectl, kubectlOk, kubectlVersions, type ServerHandle } from './harness.ts';
import { request, type Creds, type HttpResult } from './api.ts';

let server: ServerHandle;
let creds: Creds;

useServer({ args: ['--disable-scheduler', '--disable-controller-manager'] }, (s, c) => {
  server = s;
  creds = c;
});

const json = (body: unknown) => JSON.stringify(body);
const put = (p: string, body: unknown) => request(creds, 'PUT', p, { body: json(body) });
const post = (p: string, body: unknown) => request(creds, 'POST', p, { body: json(body) });
const get = (p: string) => request(creds, 'GET', p);
const patch = (p: string, type: string, body: unknown, query = '') =>
  request(creds, 'PATCH', `${p}${query}`, { body: json(body), headers: { 'content-type': type } });

function ok(r: HttpResult, code = 200): any {
  assert.equal(r.status, code, r.body);
  return r.json();
}

async function configMap(name: string, data: Record<string, string> = { a: '1' }): Promise<any> {
  return ok(await post('/api/v1/namespaces/default/configmaps?fieldManager=creator', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data }), 201);
}

describe('timestamps a client sends back', () => {
  test('a replace with creationTimestamp in milliseconds (as a JavaScript Date writes it) succeeds', async () => {
    const cm = await configMap('js-client');
    const ts: string = cm.metadata.creationTimestamp;
    assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const echoed = { ...cm, metadata: { ...cm.metadata, creationTimestamp: ts.replace('Z', '.000Z') }, data: { a: '2' } };
    const out = ok(await put('/api/v1/namespaces/default/configmaps/js-client', echoed));
    assert.equal(out.metadata.creationTimestamp, ts);
    assert.equal(out.data.a, '2');
  });

  test('a replace cannot move creationTimestamp: the stored one is kept', async () => {
    const cm = await configMap('old-times');
    const moved = { ...cm, metadata: { ...cm.metadata, creationTimestamp: '2001-01-01T00:00:00Z' } };
    assert.equal(ok(await put('/api/v1/namespaces/default/configmaps/old-times', moved)).metadata.creationTimestamp, cm.metadata.creationTimestamp);
  });

  test('a replace may not start a deletion by setting deletionTimestamp', async () => {
    const cm = await configMap('no-delete-by-put');
    const r = await put('/api/v1/namespaces/default/configmaps/no-delete-by-put', { ...cm, metadata: { ...cm.metadata, deletionTimestamp: '2030-01-01T00:00:00Z' } });
    assert.equal(r.status, 422, r.body);
    assert.match(r.json().message, /metadata\.deletionTimestamp: Invalid value: .*: field is immutable/);
  });

  test('time fields in a status are written in upstream form', async () => {
    // No serviceaccount controller: the pod's account is made by hand.
    await ensureServiceAccount(server, 'default');
    const pod = ok(await post('/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'times' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }), 201);
    pod.status = { ...pod.status, startTime: '2026-12-05T06:04:24.123Z', conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: '2026-12-05T08:04:24.5+02:00' }] };
    const out = ok(await put('/api/v1/namespaces/default/pods/times/status', pod));
    assert.equal(out.status.startTime, '2026-12-05T06:04:24Z');
    assert.equal(out.status.conditions[0].lastTransitionTime, '2026-12-05T06:04:24Z');
  });
});

describe('resourceVersion on update and patch', () => {
  test('a JSON patch that tests the current resourceVersion applies to the whole object', async () => {
    const cm = await configMap('jp-test');
    const out = ok(await patch('/api/v1/namespaces/default/configmaps/jp-test', 'application/json-patch+json', [
      { op: 'test', path: '/metadata/resourceVersion', value: cm.metadata.resourceVersion },
      { op: 'replace', path: '/data/a', value: '2' },
    ]));
    assert.equal(out.data.a, '2');
    const stale = await patch('/api/v1/namespaces/default/configmaps/jp-test', 'application/json-patch+json', [
      { op: 'test', path: '/metadata/resourceVersion', value: cm.metadata.resourceVersion },
      { op: 'replace', path: '/data/a', value: '3' },
    ]);
    assert.equal(stale.status, 422, stale.body);
  });

  test('a patch that sets another resourceVersion is a Conflict', async () => {
    const cm = await configMap('rv-precondition');
    ok(await patch('/api/v1/namespaces/default/configmaps/rv-precondition', 'application/merge-patch+json', { data: { a: '2' } }));
    for (const [type, body] of [
      ['application/json-patch+json', [{ op: 'replace', path: '/metadata/resourceVersion', value: cm.metadata.resourceVersion }, { op: 'replace', path: '/data/a', value: '3' }]],
      ['application/merge-patch+json', { metadata: { resourceVersion: cm.metadata.resourceVersion }, data: { a: '3' } }],
      ['application/strategic-merge-patch+json', { metadata: { resourceVersion: cm.metadata.resourceVersion }, data: { a: '3' } }],
    ] as const) {
      const r = await patch('/api/v1/namespaces/default/configmaps/rv-precondition', type, body);
      assert.equal(r.status, 409, `${type}: ${r.body}`);
      assert.equal(r.json().message, 'Operation cannot be fulfilled on configmaps "rv-precondition": the object has been modified; please apply your changes to the latest version and try again');
    }
  });

  test('resourceVersion "0" or none is an unconditional update for kinds that allow it', async () => {
    const cm = await configMap('rv-zero');
    ok(await patch('/api/v1/namespaces/default/configmaps/rv-zero', 'application/merge-patch+json', { data: { a: '2' } }));
    const zero = ok(await put('/api/v1/namespaces/default/configmaps/rv-zero', { ...cm, metadata: { ...cm.metadata, resourceVersion: '0' }, data: { a: '3' } }));
    assert.equal(zero.data.a, '3');
    const none = ok(await put('/api/v1/namespaces/default/configmaps/rv-zero', { ...cm, metadata: { ...cm.metadata, resourceVersion: undefined }, data: { a: '4' } }));
    assert.equal(none.data.a, '4');
  });

  test('a Lease (no unconditional updates upstream) needs its resourceVersion', async () => {
    const lease = ok(await post('/apis/coordination.k8s.io/v1/namespaces/default/leases', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec: { holderIdentity: 'a' } }), 201);
    for (const rv of ['0', undefined]) {
      const r = await put('/apis/coordination.k8s.io/v1/namespaces/default/leases/l', { ...lease, metadata: { ...lease.metadata, resourceVersion: rv }, spec: { holderIdentity: 'b' } });
      assert.equal(r.status, 422, r.body);
      const s = r.json();
      assert.equal(s.message, 'leases.coordination.k8s.io "l" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update');
      assert.deepEqual([s.details.kind, s.details.group], ['leases', 'coordination.k8s.io']);
    }
    ok(await put('/apis/coordination.k8s.io/v1/namespaces/default/leases/l', { ...lease, spec: { holderIdentity: 'b' } }));
    // A patch carries the current resourceVersion: it needs none of its own.
    ok(await patch('/apis/coordination.k8s.io/v1/namespaces/default/leases/l', 'application/merge-patch+json', { spec: { holderIdentity: 'c' } }));
  });
});

describe('resetting managedFields', () => {
  for (const [what, list] of [['a list of one empty entry', [{}]], ['an empty list', []]] as const) {
    test(`${what} clears them, in a patch and in an update, and nothing is tracked until the next apply`, async () => {
      const name = `reset-${list.length}`;
      await configMap(name);
      const p = `/api/v1/namespaces/default/configmaps/${name}`;
      assert.ok(ok(await get(p)).metadata.managedFields?.length);
      const patched = ok(await patch(p, 'application/merge-patch+json', { metadata: { managedFields: list } }));
      assert.equal(patched.metadata.managedFields, undefined);
      const later = ok(await patch(p, 'application/merge-patch+json', { data: { b: '2' } }, '?fieldManager=someone'));
      assert.equal(later.metadata.managedFields, undefined);
      await patch(p, 'application/apply-patch+yaml', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { c: '3' } }, '?fieldManager=applier');
      assert.ok(ok(await get(p)).metadata.managedFields?.length);
      const cur = ok(await get(p));
      const put1 = ok(await put(p, { ...cur, metadata: { ...cur.metadata, managedFields: list } }));
      assert.equal(put1.metadata.managedFields, undefined);
    });
  }
});

describe('pods: the QoS class', () => {
  test('is computed at creation and a status update may not change it', async () => {
    await ensureServiceAccount(server, 'default');
    const pod = ok(await post('/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'burstable' },
      spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '100m' } } }] },
    }), 201);
    assert.equal(pod.status.qosClass, 'Burstable');
    const r = await put('/api/v1/namespaces/default/pods/burstable/status', { ...pod, status: { ...pod.status, phase: 'Running', qosClass: 'BestEffort' } });
    assert.equal(r.status, 422, r.body);
    assert.match(r.json().message, /status\.qosClass: Invalid value: "BestEffort": field is immutable/);
    const kept = ok(await patch('/api/v1/namespaces/default/pods/burstable/status', 'application/merge-patch+json', { status: { phase: 'Running', qosClass: null } }));
    assert.equal(kept.status.qosClass, 'Burstable');
  });
});

describe('CertificateSigningRequests', () => {
  test('record the authenticated requester, shown by kubectl get csr', async () => {
    const me = ok(await post('/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }), 201).status.userInfo;
    const csr = ok(await post('/apis/certificates.k8s.io/v1/certificatesigningrequests', {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name: 'req' },
      spec: { request: Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\nbm90IHJlYWxseSBhIENTUg==\n-----END CERTIFICATE REQUEST-----\n').toString('base64'), signerName: 'example.com/signer', usages: ['digital signature'], username: 'mallory', groups: ['system:masters'] },
    }), 201);
    assert.equal(csr.spec.username, me.username);
    assert.deepEqual(csr.spec.groups, me.groups);
    const out = await kubectlOk(server, kubectlVersions[kubectlVersions.length - 1] ?? '', ['get', 'csr', 'req']);
    assert.match(out, /REQUESTOR/);
    assert.match(out, new RegExp(`\\s${me.username}\\s`));
  });
});

describe('lists', () => {
  test('a malformed continue token is a 400 as upstream words it', async () => {
    const bad = Buffer.from(json({ v: 'meta.k8s.io/v1', rv: 1.5, start: 'x' })).toString('base64url');
    const r = await get(`/api/v1/namespaces/default/configmaps?limit=1&continue=${bad}`);
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json().message, 'invalid continue token: continue key is not valid: json: cannot unmarshal number 1.5 into Go struct field continueToken.rv of type int64');
  });

  test('a continue token pages on from where the last page stopped', async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await configMap(n);
    const first = ok(await get('/api/v1/namespaces/default/configmaps?limit=1'));
    assert.ok(first.metadata.continue);
    const second = ok(await get(`/api/v1/namespaces/default/configmaps?limit=1&continue=${first.metadata.continue}`));
    assert.notEqual(second.items[0].metadata.name, first.items[0].metadata.name);
    const withRv = await get(`/api/v1/namespaces/default/configmaps?limit=1&continue=${first.metadata.continue}&resourceVersion=5`);
    assert.equal(withRv.status, 400, withRv.body);
    assert.equal(withRv.json().message, 'specifying resource version is not allowed when using continue');
  });

  test('the largest int64 limit lists everything', async () => {
    const all = ok(await get('/api/v1/namespaces/default/configmaps'));
    const r = ok(await get('/api/v1/namespaces/default/configmaps?limit=9223372036854775807'));
    assert.equal(r.items.length, all.items.length);
    assert.equal(r.metadata.continue, undefined);
  });
});

for (const v of kubectlVersions) {
  describe(`kubectl 1.${v}: from client-side to server-side apply`, () => {
    test('the first server-side apply after client-side ones changes a value without a conflict', async () => {
      const ns = `csa-ssa-${v}`;
      await kubectlOk(server, v, ['create', 'namespace', ns]);
      const file = path.join(server.dataDir, `csa-${v}.yaml`);
      const write = (value: string) => fs.writeFileSync(file, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: ${ns}\ndata:\n  key: ${value}\n  other: same\n`);
      write('one');
      await kubectlOk(server, v, ['apply', '-f', file]);
      write('two');
      await kubectlOk(server, v, ['apply', '-f', file]);
      write('three');
      const r = await kubectl(server, v, ['apply', '--server-side', '-f', file]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const cm = JSON.parse(await kubectlOk(server, v, ['-n', ns, 'get', 'configmap', 'settings', '-o', 'json', '--show-managed-fields']));
      assert.equal(cm.data.key, 'three');
      const kubectlEntry = cm.metadata.managedFields.find((m: any) => m.manager === 'kubectl' && m.operation === 'Apply');
      assert.ok(kubectlEntry?.fieldsV1?.['f:data']?.['f:key'], JSON.stringify(cm.metadata.managedFields));
    });
  });
}

describe('server-side apply by kubectl over a client-side applied object (no migration)', () => {
  test('fields whose live values match last-applied are taken over, others conflict', async () => {
    const last = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'migrate', namespace: 'default' }, data: { key: 'one', other: 'x' } };
    ok(await post('/api/v1/namespaces/default/configmaps?fieldManager=kubectl-client-side-apply', {
      ...last,
      metadata: { ...last.metadata, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': json(last) } },
    }), 201);
    ok(await patch('/api/v1/namespaces/default/configmaps/migrate', 'application/merge-patch+json', { data: { other: 'edited' } }, '?fieldManager=kubectl-client-side-apply'));
    const cfg = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'migrate' }, data: { key: 'two', other: 'y' } };
    const conflict = await patch('/api/v1/namespaces/default/configmaps/migrate', 'application/apply-patch+yaml', cfg, '?fieldManager=kubectl');
    assert.equal(conflict.status, 409, conflict.body);
    assert.deepEqual(conflict.json().details.causes.map((c: any) => c.field), ['.data.other']);
    const applied = ok(await patch('/api/v1/namespaces/default/configmaps/migrate', 'application/apply-patch+yaml', { ...cfg, data: { key: 'two' } }, '?fieldManager=kubectl'));
    assert.equal(applied.data.key, 'two');
    assert.equal(JSON.parse(applied.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).data.key, 'two');
  });
});

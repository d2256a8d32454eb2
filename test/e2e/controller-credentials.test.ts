/**
 * Per-controller credentials (upstream's --use-service-account-credentials), seen from the audit
 * log of a started `bosun server`: a new Deployment's ReplicaSet is created by the ServiceAccount
 * `kube-system/deployment-controller` and its pods by `kube-system/replicaset-controller`, each
 * with the manager's User-Agent naming it; those ServiceAccounts have exactly their controller
 * roles (`kubectl auth can-i`); a cluster that an older Bosun left with its single-identity
 * `bosun:controller:*` bindings loses them at the next start. `bosun controller-manager
 * --use-service-account-credentials=false` runs every controller as the kubeconfig's own user.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, bosunBin, kubectl, kubectlOk, kubectlVersions, until, waitForServiceAccount, type ServerHandle } from './harness.ts';

const newest = kubectlVersions.at(-1)!;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-credentials-'));
const policyFile = path.join(dir, 'policy.yaml');
fs.writeFileSync(policyFile, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: ["RequestReceived"]\nrules:\n- level: Metadata\n');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface AuditEvent {
  verb: string;
  user: { username: string };
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code: number };
}

function auditEvents(logFile: string): AuditEvent[] {
  if (!fs.existsSync(logFile)) return [];
  return fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent);
}

/** The successful creates of `resource` in `namespace`, as the audit log has them. */
const creates = (logFile: string, resource: string, namespace: string) =>
  auditEvents(logFile).filter((e) => e.verb === 'create' && e.objectRef?.resource === resource && !e.objectRef.subresource && e.objectRef.namespace === namespace && e.responseStatus?.code === 201);

const deployment = (name: string) => JSON.stringify({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
});

describe('bosun server: each controller as its ServiceAccount', () => {
  const logFile = path.join(dir, 'audit.log');
  let server: ServerHandle;
  before(async () => {
    server = await startServer({ args: ['--audit-policy-file', policyFile, '--audit-log-path', logFile] });
  });
  after(async () => {
    await server?.stop();
  });

  test("a Deployment's ReplicaSet is created by deployment-controller, its pods by replicaset-controller", async () => {
    await kubectlOk(server, newest, ['create', 'namespace', 'creds']);
    await waitForServiceAccount(server, 'creds');
    await kubectlOk(server, newest, ['apply', '-n', 'creds', '-f', '-'], { input: deployment('web') });
    const rs = await until('the ReplicaSet create in the audit log', async () => creates(logFile, 'replicasets', 'creds')[0], { timeoutMs: 60_000, detail: () => server.output().slice(-3000) });
    assert.equal(rs.user.username, 'system:serviceaccount:kube-system:deployment-controller');
    assert.match(rs.userAgent ?? '', /\/system:serviceaccount:kube-system:deployment-controller$/);
    const pods = await until('both pod creates in the audit log', async () => {
      const p = creates(logFile, 'pods', 'creds');
      return p.length >= 2 && p;
    }, { timeoutMs: 60_000 });
    assert.deepEqual([...new Set(pods.map((e) => e.user.username))], ['system:serviceaccount:kube-system:replicaset-controller']);
    // The controllers' events are written as the controllers too.
    const events = await until('the ScalingReplicaSet event', async () => auditEvents(logFile).find((e) => e.verb === 'create' && e.objectRef?.resource === 'events' && e.objectRef.namespace === 'creds' && e.user.username.endsWith(':deployment-controller')), { timeoutMs: 30_000 });
    assert.equal(events.responseStatus?.code, 201);
    // The ServiceAccounts exist in kube-system, created by the manager.
    const sas = await kubectlOk(server, newest, ['get', 'serviceaccounts', '-n', 'kube-system', '-o', 'name']);
    for (const sa of ['deployment-controller', 'replicaset-controller', 'namespace-controller', 'generic-garbage-collector', 'service-controller', 'system-namespaces-controller']) assert.match(sas, new RegExp(`^serviceaccount/${sa}$`, 'm'));
    const saCreate = auditEvents(logFile).find((e) => e.verb === 'create' && e.objectRef?.resource === 'serviceaccounts' && e.objectRef.name === 'deployment-controller' && !e.objectRef.subresource);
    assert.equal(saCreate?.user.username, 'system:kube-controller-manager');
    const token = auditEvents(logFile).find((e) => e.verb === 'create' && e.objectRef?.resource === 'serviceaccounts' && e.objectRef.subresource === 'token' && e.objectRef.name === 'deployment-controller');
    assert.equal(token?.user.username, 'system:kube-controller-manager');
    assert.equal(token?.responseStatus?.code, 201);
  });

  test('kubectl auth can-i: a controller ServiceAccount may do its job and nothing more', async () => {
    const as = (sa: string) => ['--as', `system:serviceaccount:kube-system:${sa}`];
    for (const v of kubectlVersions) {
      for (const [args, sa, want] of [
        [['delete', 'nodes'], 'deployment-controller', 'no'],
        [['get', 'secrets', '-n', 'kube-system'], 'deployment-controller', 'no'],
        [['create', 'replicasets.apps', '-n', 'creds'], 'deployment-controller', 'yes'],
        [['create', 'pods', '-n', 'creds'], 'replicaset-controller', 'yes'],
        [['create', 'replicasets.apps', '-n', 'creds'], 'replicaset-controller', 'no'],
        [['create', 'namespaces'], 'system-namespaces-controller', 'yes'],
        [['update', 'services', '--subresource', 'status', '-n', 'creds'], 'service-controller', 'yes'],
        [['update', 'services', '-n', 'creds'], 'service-controller', 'no'],
      ] as const) {
        const r = await kubectl(server, v, ['auth', 'can-i', ...args, ...as(sa)]);
        assert.equal(r.stdout.trim(), want, `kubectl 1.${v} auth can-i ${args.join(' ')} as ${sa}: ${r.stdout}${r.stderr}`);
        assert.equal(r.code, want === 'yes' ? 0 : 1);
      }
    }
    // The manager's own identity cannot create what its controllers create.
    const r = await kubectl(server, newest, ['auth', 'can-i', 'create', 'replicasets.apps', '-n', 'creds', '--as', 'system:kube-controller-manager']);
    assert.equal(r.stdout.trim(), 'no');
  });

  test("an older Bosun's single-identity bindings are removed at the next start; the rollout still completes", async () => {
    const old = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'bosun:controller:deployment-controller', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' }, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:controller:deployment-controller' },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'system:kube-controller-manager' }],
    };
    // A user's binding of a Bosun-like name, without the bootstrapping label, is not Bosun's to remove.
    const mine = { ...old, metadata: { name: 'bosun:controller:replicaset-controller' }, roleRef: { ...old.roleRef, name: 'system:controller:replicaset-controller' } };
    await kubectlOk(server, newest, ['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [old, mine] }) });
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, args: ['--audit-policy-file', policyFile, '--audit-log-path', logFile] });
    assert.match(server.output(), /deleted clusterrolebinding\.rbac\.authorization\.k8s\.io\/bosun:controller:deployment-controller: no longer wanted/);
    const r = await kubectl(server, newest, ['get', 'clusterrolebinding', 'bosun:controller:deployment-controller']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NotFound|not found/);
    await kubectlOk(server, newest, ['get', 'clusterrolebinding', 'bosun:controller:replicaset-controller']);
    // After the restart the controllers get new tokens and carry on.
    await kubectlOk(server, newest, ['scale', 'deployment', 'web', '-n', 'creds', '--replicas', '3']);
    await until('a third pod created by replicaset-controller', async () => {
      const p = creates(logFile, 'pods', 'creds');
      return p.length >= 3 && p.every((e) => e.user.username === 'system:serviceaccount:kube-system:replicaset-controller');
    }, { timeoutMs: 60_000, detail: () => server.output().slice(-3000) });
  });
});

describe('bosun controller-manager --use-service-account-credentials=false', () => {
  const logFile = path.join(dir, 'audit-single.log');
  let server: ServerHandle;
  let manager: ChildProcess | undefined;
  let managerOut = '';
  before(async () => {
    server = await startServer({ args: ['--disable-controller-manager', '--disable-scheduler', '--audit-policy-file', policyFile, '--audit-log-path', logFile] });
    manager = spawn(bosunBin, ['controller-manager', '--kubeconfig', server.kubeconfig, '--use-service-account-credentials=false', '--controllers', 'deployment,replicaset,serviceaccount'], { stdio: ['ignore', 'pipe', 'pipe'] });
    manager.stdout!.on('data', (d: Buffer) => (managerOut += d.toString()));
    manager.stderr!.on('data', (d: Buffer) => (managerOut += d.toString()));
  });
  after(async () => {
    manager?.kill('SIGTERM');
    if (manager && manager.exitCode === null) await new Promise((r) => manager!.once('exit', r));
    await server?.stop();
  });

  test("every controller acts as the kubeconfig's own user, and no controller ServiceAccount is made", async () => {
    await kubectlOk(server, newest, ['apply', '-f', '-'], { input: deployment('single') });
    const rs = await until('the ReplicaSet create in the audit log', async () => creates(logFile, 'replicasets', 'default')[0], { timeoutMs: 60_000, detail: () => managerOut });
    // The admin kubeconfig's user (its certificate's CN).
    assert.equal(rs.user.username, 'system:admin');
    const pods = await until('both pod creates', async () => {
      const p = creates(logFile, 'pods', 'default');
      return p.length >= 2 && p;
    }, { timeoutMs: 60_000, detail: () => managerOut });
    assert.deepEqual([...new Set(pods.map((e) => e.user.username))], ['system:admin']);
    assert.equal(auditEvents(logFile).some((e) => e.objectRef?.resource === 'serviceaccounts' && e.objectRef.subresource === 'token'), false, 'no token was requested');
    const r = await kubectl(server, newest, ['get', 'serviceaccount', 'deployment-controller', '-n', 'kube-system']);
    assert.notEqual(r.code, 0);
  });
});

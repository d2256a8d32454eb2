/**
 * Audit logging and encryption at rest, as upstream's flags set them up: a Metadata-level policy
 * writes audit.k8s.io/v1 Events as JSON lines for a request (with the authorization decision),
 * and a Secret written under an aescbc EncryptionConfiguration is stored with upstream's
 * `k8s:enc:aescbc:v1:<key>:` prefix, never in plain text in the database files, while reads
 * through the API give it back.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubectlOk, kubectlVersions, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-audit-'));
const policyFile = path.join(dir, 'policy.yaml');
const logFile = path.join(dir, 'audit.log');
const encFile = path.join(dir, 'encryption.yaml');
fs.writeFileSync(policyFile, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: ["RequestReceived"]\nrules:\n- level: None\n  users: ["system:kube-controller-manager", "system:kube-scheduler", "system:apiserver"]\n- level: Metadata\n');
const key = crypto.randomBytes(32).toString('base64');
fs.writeFileSync(encFile, `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: ["secrets"]\n  providers:\n  - aescbc:\n      keys:\n      - name: key1\n        secret: ${key}\n  - identity: {}\n`);

after(() => fs.rmSync(dir, { recursive: true, force: true }));

let server!: ServerHandle;
useServer({ args: ['--audit-policy-file', policyFile, '--audit-log-path', logFile, '--encryption-provider-config', encFile] }, (s) => (server = s));
const v = kubectlVersions.at(-1)!;

test('a request is audited at Metadata level as an audit.k8s.io/v1 Event', async () => {
  await kubectlOk(server, v, ['create', 'configmap', 'audited', '--from-literal', 'k=v']);
  const ev = await until('the create in the audit log', async () => {
    if (!fs.existsSync(logFile)) return undefined;
    const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
    return lines.find((e) => e['verb'] === 'create' && e['objectRef']?.resource === 'configmaps' && e['objectRef']?.name === 'audited');
  });
  assert.equal(ev['kind'], 'Event');
  assert.equal(ev['apiVersion'], 'audit.k8s.io/v1');
  assert.equal(ev['level'], 'Metadata');
  assert.equal(ev['stage'], 'ResponseComplete');
  assert.equal(ev['user'].username, 'system:admin');
  assert.equal(ev['responseStatus'].code, 201);
  assert.equal(ev['annotations']['authorization.k8s.io/decision'], 'allow');
  assert.equal(ev['requestObject'], undefined, 'Metadata level carries no body');
  assert.match(ev['auditID'], /^[0-9a-f-]{36}$/);
});

test('a Secret is encrypted at rest with aescbc and read back in clear through the API', async () => {
  const secret = `s3cret-${crypto.randomBytes(8).toString('hex')}`;
  await kubectlOk(server, v, ['create', 'secret', 'generic', 'enc', '--from-literal', `password=${secret}`]);
  assert.equal(Buffer.from(await kubectlOk(server, v, ['get', 'secret', 'enc', '-o', 'jsonpath={.data.password}']), 'base64').toString(), secret);
  const dbDir = path.join(server.dataDir, 'db');
  const raw = Buffer.concat(fs.readdirSync(dbDir).map((f) => fs.readFileSync(path.join(dbDir, f))));
  assert.equal(raw.includes(Buffer.from(secret)), false, 'the secret value is not in the database files');
  assert.equal(raw.includes(Buffer.from(Buffer.from(secret).toString('base64'))), false, 'nor its base64');
  assert.equal(raw.includes(Buffer.from('k8s:enc:aescbc:v1:key1:')), true, 'the stored value carries the provider prefix');
});

test("admission plugins' audit annotations reach the request's event (PodSecurity audit)", async () => {
  await kubectlOk(server, v, ['create', 'namespace', 'audited-ns']);
  await waitForServiceAccount(server, 'audited-ns');
  await kubectlOk(server, v, ['label', 'namespace', 'audited-ns', 'pod-security.kubernetes.io/audit=restricted']);
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'priv', namespace: 'audited-ns' }, spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] } };
  await kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(pod) });
  const ev = await until('the pod create in the audit log', async () => {
    const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
    return lines.find((e) => e['verb'] === 'create' && e['objectRef']?.resource === 'pods' && e['objectRef']?.name === 'priv');
  });
  assert.match(ev['annotations']['pod-security.kubernetes.io/audit-violations'], /would violate PodSecurity "restricted:latest": privileged/);
});

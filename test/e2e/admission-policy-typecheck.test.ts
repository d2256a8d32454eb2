/**
 * ValidatingAdmissionPolicy type checking through kubectl, as upstream's
 * validatingadmissionpolicy-status controller reports it: a policy whose expressions name a field
 * Deployments do not have, or add a string to an int, gets cel-go's issues in
 * status.typeChecking.expressionWarnings; fixed, it gets `typeChecking: {}` for its new
 * generation; a policy matching a wildcard is not checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, type ServerHandle } from './harness.ts';

let server!: ServerHandle;
useServer({}, (s) => (server = s));
const v = kubectlVersions.at(-1)!;

const rules = (resources: string[]) => ({ resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources }] });
const policy = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name }, spec: { failurePolicy: 'Fail', ...spec } });

interface Status {
  observedGeneration?: number;
  typeChecking?: { expressionWarnings?: { fieldRef: string; warning: string }[] };
}

/** The policy's status once the controller has checked `generation`. */
async function checked(name: string, generation: number): Promise<Status> {
  return until(`${name} checked at generation ${generation}`, async () => {
    const r = await kubectl(server, v, ['get', 'validatingadmissionpolicy', name, '-o', 'json']);
    if (r.code !== 0) return undefined;
    const status = (JSON.parse(r.stdout) as { status?: Status }).status;
    return status?.observedGeneration === generation ? status : undefined;
  }, { timeoutMs: 60_000 });
}

test('a policy naming a field Deployments lack gets upstream’s warning in status.typeChecking; fixed, the warnings go', { timeout: 120_000 }, async () => {
  const bad = policy('replicaz.example.com', {
    matchConstraints: rules(['deployments']),
    validations: [{ expression: 'object.spec.replicaz > 1' }, { expression: 'object.spec.replicas > 1', messageExpression: "'replicas: ' + object.spec.replicas" }],
  });
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(bad) });
  const status = await checked('replicaz.example.com', 1);
  assert.deepEqual(status.typeChecking, {
    expressionWarnings: [
      { fieldRef: 'spec.validations[0].expression', warning: "apps/v1, Kind=Deployment: ERROR: <input>:1:12: undefined field 'replicaz'\n | object.spec.replicaz > 1\n | ...........^\n" },
      { fieldRef: 'spec.validations[1].messageExpression', warning: "apps/v1, Kind=Deployment: ERROR: <input>:1:14: found no matching overload for '_+_' applied to '(string, int)'\n | 'replicas: ' + object.spec.replicas\n | .............^\n" },
    ],
  });
  const yaml = await kubectlOk(server, v, ['get', 'validatingadmissionpolicy', 'replicaz.example.com', '-o', 'yaml']);
  assert.match(yaml, /typeChecking:\n {4}expressionWarnings:\n {4}- fieldRef: spec\.validations\[0\]\.expression\n {6}warning: \|\n {8}apps\/v1, Kind=Deployment: ERROR: <input>:1:12: undefined field 'replicaz'\n {9}\| object\.spec\.replicaz > 1\n {9}\| \.{11}\^/);
  // The status is the controller's, applied under upstream's field manager.
  const managed = JSON.parse(await kubectlOk(server, v, ['get', 'validatingadmissionpolicy', 'replicaz.example.com', '-o', 'jsonpath={.metadata.managedFields}', '--show-managed-fields'])) as { manager: string; operation: string; subresource?: string }[];
  assert.ok(managed.some((m) => m.manager === 'validatingadmissionpolicy-status' && m.operation === 'Apply' && m.subresource === 'status'), JSON.stringify(managed));

  const fixed = policy('replicaz.example.com', { matchConstraints: rules(['deployments']), validations: [{ expression: 'object.spec.replicas > 1', messageExpression: "'replicas: ' + string(object.spec.replicas)" }] });
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(fixed) });
  assert.deepEqual((await checked('replicaz.example.com', 2)).typeChecking, {});
});

test('a policy matching every resource of a group is not type checked', { timeout: 120_000 }, async () => {
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(policy('wildcard.example.com', { matchConstraints: rules(['*']), validations: [{ expression: 'object.spec.replicaz > 1' }] })) });
  assert.deepEqual((await checked('wildcard.example.com', 1)).typeChecking, {});
});

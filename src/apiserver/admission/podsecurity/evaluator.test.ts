import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PodSpec } from '../../../api/index.ts';
import { aggregate, forbiddenDetail, forbiddenReason, type Check } from './check.ts';
import { newEvaluator } from './evaluator.ts';
import type { LevelVersion } from './levels.ts';

const evaluate = newEvaluator();
const detail = (lv: LevelVersion, spec: PodSpec, annotations?: Record<string, string>) => forbiddenDetail(aggregate(evaluate(lv, { annotations }, spec)));
const reasons = (lv: LevelVersion, spec: PodSpec) => forbiddenReason(aggregate(evaluate(lv, {}, spec)));

const restrictedLatest: LevelVersion = { level: 'restricted', version: 'latest' };
const baselineLatest: LevelVersion = { level: 'baseline', version: 'latest' };

/** A pod that meets the restricted profile. */
const compliant = (): PodSpec => ({
  securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [{ name: 'c', image: 'i', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
});

test('a privileged container at restricted:latest gives upstream’s message, checks in upstream order', () => {
  const spec: PodSpec = { containers: [{ name: 'c', image: 'i', securityContext: { privileged: true } }] };
  assert.equal(
    detail(restrictedLatest, spec),
    'privileged (container "c" must not set securityContext.privileged=true), ' +
      'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ' +
      'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ' +
      'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ' +
      'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
  );
});

test('a compliant pod passes every level', () => {
  for (const level of ['privileged', 'baseline', 'restricted'] as const) {
    for (const version of ['latest', 0, 8, 19, 25, 32, 99] as const) {
      assert.ok(aggregate(evaluate({ level, version }, {}, compliant())).allowed, `${level}:${version}`);
    }
  }
});

test('baseline checks run in id order, restricted ones after them', () => {
  const spec = compliant();
  spec.hostNetwork = true;
  spec.volumes = [{ name: 'v', hostPath: { path: '/' } }];
  spec.securityContext!.sysctls = [{ name: 'kernel.x', value: '1' }];
  spec.securityContext!.runAsUser = 0;
  spec.containers[0]!.securityContext!.procMount = 'Unmasked';
  spec.containers[0]!.securityContext!.capabilities!.add = ['SYS_ADMIN'];
  spec.containers[0]!.ports = [{ containerPort: 1, hostPort: 1 }];
  assert.equal(reasons(baselineLatest, spec), 'non-default capabilities, host namespaces, hostPath volumes, hostPort, procMount, forbidden sysctls');
  // capabilities_baseline and hostPathVolumes give way to their restricted replacements
  assert.equal(reasons(restrictedLatest, spec), 'host namespaces, hostPort, procMount, forbidden sysctls, unrestricted capabilities, restricted volume types, runAsUser=0');
});

test('a restricted check replaces its baseline check only from the version it exists', () => {
  const spec = compliant();
  spec.containers[0]!.securityContext!.capabilities = { add: ['SYS_ADMIN'] };
  assert.equal(reasons({ level: 'restricted', version: 21 }, spec), 'non-default capabilities');
  assert.equal(reasons({ level: 'restricted', version: 22 }, spec), 'unrestricted capabilities');
  assert.equal(
    detail({ level: 'restricted', version: 22 }, spec),
    'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]; container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)',
  );
});

test('restricted before v1.19 reads the seccomp annotations through the baseline check', () => {
  const spec: PodSpec = { securityContext: { runAsNonRoot: true }, containers: [{ name: 'c', image: 'i', securityContext: { allowPrivilegeEscalation: false } }] };
  assert.equal(reasons({ level: 'restricted', version: 18 }, spec), '');
  assert.equal(
    detail({ level: 'restricted', version: 18 }, spec, { 'seccomp.security.alpha.kubernetes.io/pod': 'unconfined' }),
    'seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")',
  );
  assert.equal(reasons({ level: 'restricted', version: 19 }, spec), 'seccompProfile');
});

test('latest and versions past the newest revision evaluate as the newest; privileged evaluates nothing', () => {
  const spec = compliant();
  spec.securityContext!.sysctls = [{ name: 'net.ipv4.tcp_wmem', value: '1' }];
  assert.equal(reasons({ level: 'baseline', version: 31 }, spec), 'forbidden sysctls');
  assert.equal(reasons({ level: 'baseline', version: 32 }, spec), '');
  assert.equal(reasons({ level: 'baseline', version: 40 }, spec), '');
  assert.equal(reasons(baselineLatest, spec), '');
  const privileged: PodSpec = { hostPID: true, containers: [{ name: 'c', securityContext: { privileged: true } }] };
  assert.deepEqual(evaluate({ level: 'privileged', version: 'latest' }, {}, privileged), []);
});

test('a check without a reason is reported as upstream’s unknown reason', () => {
  const checks: Check[] = [{ id: 'x', level: 'baseline', versions: [{ minimumVersion: 0, check: () => ({ allowed: false }) }] }];
  assert.equal(forbiddenDetail(aggregate(newEvaluator(checks)(baselineLatest, {}, { containers: [] }))), 'unknown forbidden reason');
});

test('duplicate check ids are refused', () => {
  const x: Check = { id: 'x', level: 'baseline', versions: [{ minimumVersion: 0, check: () => ({ allowed: true }) }] };
  assert.throws(() => newEvaluator([x, x]), /multiple checks registered for ID x/);
});

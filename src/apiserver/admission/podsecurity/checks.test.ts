import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, PodSpec } from '../../../api/index.ts';
import { baselineChecks } from './baseline.ts';
import type { CheckResult, PodMeta } from './check.ts';
import { restrictedChecks } from './restricted.ts';

// ---- fixtures ---------------------------------------------------------------------------------

/** Runs check `id` as it applies at minor version `v` ('latest': its newest revision). */
function run(id: string, v: number | 'latest', spec: PodSpec, meta: PodMeta = {}): CheckResult {
  const check = [...baselineChecks, ...restrictedChecks].find((c) => c.id === id);
  assert.ok(check, `no check ${id}`);
  const revision = check.versions.filter((r) => v === 'latest' || r.minimumVersion <= v).at(-1);
  if (!revision) return { allowed: true }; // the check does not exist at that version
  return revision.check(meta, spec);
}

const c = (name: string, x: Partial<Container> = {}): Container => ({ name, image: 'i', ...x });
const sc = (name: string, securityContext: Container['securityContext']): Container => c(name, { securityContext });
const spec = (containers: Container[], x: Partial<PodSpec> = {}): PodSpec => ({ containers, ...x });

interface Case {
  name: string;
  id: string;
  version?: number | 'latest';
  spec: PodSpec;
  meta?: PodMeta;
  /** Omitted: allowed. */
  reason?: string;
  detail?: string;
}

const cases: Case[] = [
  // appArmorProfile
  {
    name: 'appArmorProfile allows RuntimeDefault, Localhost and allowed annotations',
    id: 'appArmorProfile',
    spec: spec([sc('a', { appArmorProfile: { type: 'Localhost', localhostProfile: 'p' } })], { securityContext: { appArmorProfile: { type: 'RuntimeDefault' } } }),
    meta: {
      annotations: {
        'container.apparmor.security.beta.kubernetes.io/a': 'runtime/default',
        'container.apparmor.security.beta.kubernetes.io/b': 'localhost/foo',
        'container.apparmor.security.beta.kubernetes.io/c': '',
      },
    },
  },
  {
    name: 'appArmorProfile refuses a pod-level Unconfined',
    id: 'appArmorProfile',
    spec: spec([c('a')], { securityContext: { appArmorProfile: { type: 'Unconfined' } } }),
    reason: 'forbidden AppArmor profile',
    detail: 'pod must not set AppArmor profile type to "Unconfined"',
  },
  {
    name: 'appArmorProfile names pod, containers and annotations with every bad value',
    id: 'appArmorProfile',
    spec: spec([sc('a', { appArmorProfile: { type: 'Unconfined' } }), sc('b', { appArmorProfile: { type: 'Unconfined' } })], {
      securityContext: { appArmorProfile: { type: 'Unconfined' } },
    }),
    meta: { annotations: { 'container.apparmor.security.beta.kubernetes.io/b': 'unconfined', 'container.apparmor.security.beta.kubernetes.io/a': 'bad' } },
    reason: 'forbidden AppArmor profiles',
    detail:
      'pod and containers "a", "b" and annotations must not set AppArmor profile type to "Unconfined", ' +
      '"container.apparmor.security.beta.kubernetes.io/a="bad"", "container.apparmor.security.beta.kubernetes.io/b="unconfined""',
  },
  // capabilities_baseline
  {
    name: 'capabilities_baseline allows the default set',
    id: 'capabilities_baseline',
    spec: spec([sc('a', { capabilities: { add: ['CHOWN', 'NET_BIND_SERVICE', 'SYS_CHROOT'] } })]),
  },
  {
    name: 'capabilities_baseline refuses others, sorted and deduplicated',
    id: 'capabilities_baseline',
    spec: spec([sc('a', { capabilities: { add: ['FOO', 'CHOWN'] } }), sc('b', { capabilities: { add: ['BAR', 'FOO'] } }), sc('c', { capabilities: { add: ['KILL'] } })]),
    reason: 'non-default capabilities',
    detail: 'containers "a", "b" must not include "BAR", "FOO" in securityContext.capabilities.add',
  },
  // hostNamespaces
  { name: 'hostNamespaces allows false', id: 'hostNamespaces', spec: spec([c('a')], { hostNetwork: false, hostPID: false }) },
  {
    name: 'hostNamespaces refuses all three',
    id: 'hostNamespaces',
    spec: spec([c('a')], { hostIPC: true, hostNetwork: true, hostPID: true }),
    reason: 'host namespaces',
    detail: 'hostNetwork=true, hostPID=true, hostIPC=true',
  },
  // hostPathVolumes
  { name: 'hostPathVolumes allows other volumes', id: 'hostPathVolumes', spec: spec([c('a')], { volumes: [{ name: 'a', emptyDir: {} }] }) },
  {
    name: 'hostPathVolumes refuses one',
    id: 'hostPathVolumes',
    spec: spec([c('a')], { volumes: [{ name: 'a', hostPath: { path: '/' } }, { name: 'b', emptyDir: {} }] }),
    reason: 'hostPath volumes',
    detail: 'volume "a"',
  },
  {
    name: 'hostPathVolumes refuses several',
    id: 'hostPathVolumes',
    spec: spec([c('a')], { volumes: [{ name: 'a', hostPath: { path: '/' } }, { name: 'b', hostPath: { path: '/x' } }] }),
    reason: 'hostPath volumes',
    detail: 'volumes "a", "b"',
  },
  // hostPorts
  { name: 'hostPorts allows container ports and hostPort 0', id: 'hostPorts', spec: spec([c('a', { ports: [{ containerPort: 80, hostPort: 0 }] })]) },
  {
    name: 'hostPorts refuses one',
    id: 'hostPorts',
    spec: spec([c('a'), c('b', { ports: [{ containerPort: 80, hostPort: 20 }] })]),
    reason: 'hostPort',
    detail: 'container "b" uses hostPort 20',
  },
  {
    name: 'hostPorts lists ports as strings in byte order',
    id: 'hostPorts',
    spec: spec([c('b', { ports: [{ containerPort: 1, hostPort: 9 }, { containerPort: 2, hostPort: 10 }] }), c('c', { ports: [{ containerPort: 3, hostPort: 30 }] })]),
    reason: 'hostPort',
    detail: 'containers "b", "c" use hostPorts 10, 30, 9',
  },
  // privileged
  { name: 'privileged allows false', id: 'privileged', spec: spec([sc('a', { privileged: false })]) },
  {
    name: 'privileged refuses true in every container kind',
    id: 'privileged',
    spec: spec([sc('d', { privileged: true })], { initContainers: [sc('i', { privileged: true })], ephemeralContainers: [{ name: 'e', securityContext: { privileged: true } }] }),
    reason: 'privileged',
    detail: 'containers "i", "d", "e" must not set securityContext.privileged=true',
  },
  // procMount
  { name: 'procMount allows Default', id: 'procMount', spec: spec([sc('a', { procMount: 'Default' })]) },
  {
    name: 'procMount refuses others',
    id: 'procMount',
    spec: spec([sc('d', { procMount: 'Unmasked' }), sc('e', { procMount: 'other' })]),
    reason: 'procMount',
    detail: 'containers "d", "e" must not set securityContext.procMount to "Unmasked", "other"',
  },
  // seLinuxOptions
  {
    name: 'seLinuxOptions allows the container types and levels',
    id: 'seLinuxOptions',
    spec: spec([sc('a', { seLinuxOptions: { type: 'container_init_t', level: 's0' } })], { securityContext: { seLinuxOptions: { type: 'container_t' } } }),
  },
  {
    name: 'seLinuxOptions refuses a pod type',
    id: 'seLinuxOptions',
    spec: spec([c('a')], { securityContext: { seLinuxOptions: { type: 'bad' } } }),
    reason: 'seLinuxOptions',
    detail: 'pod set forbidden securityContext.seLinuxOptions: type "bad"',
  },
  {
    name: 'seLinuxOptions names types, user and role',
    id: 'seLinuxOptions',
    spec: spec([sc('e', { seLinuxOptions: { type: 'bar' } }), sc('f', { seLinuxOptions: { user: 'u' } }), sc('g', { seLinuxOptions: { role: 'r' } })], {
      securityContext: { seLinuxOptions: { type: 'foo' } },
    }),
    reason: 'seLinuxOptions',
    detail: 'pod and containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set',
  },
  {
    name: 'seLinuxOptions allows container_engine_t from v1.31',
    id: 'seLinuxOptions',
    version: 31,
    spec: spec([sc('a', { seLinuxOptions: { type: 'container_engine_t' } })]),
  },
  {
    name: 'seLinuxOptions refuses container_engine_t before v1.31',
    id: 'seLinuxOptions',
    version: 30,
    spec: spec([sc('a', { seLinuxOptions: { type: 'container_engine_t' } })]),
    reason: 'seLinuxOptions',
    detail: 'container "a" set forbidden securityContext.seLinuxOptions: type "container_engine_t"',
  },
  // seccompProfile_baseline
  {
    name: 'seccompProfile_baseline allows unset, RuntimeDefault and Localhost',
    id: 'seccompProfile_baseline',
    spec: spec([c('a'), sc('b', { seccompProfile: { type: 'Localhost', localhostProfile: 'p' } })], { securityContext: { seccompProfile: { type: 'RuntimeDefault' } } }),
  },
  {
    name: 'seccompProfile_baseline refuses Unconfined',
    id: 'seccompProfile_baseline',
    spec: spec([sc('c', { seccompProfile: { type: 'Unconfined' } }), sc('d', { seccompProfile: { type: 'Unconfined' } })], {
      securityContext: { seccompProfile: { type: 'Unconfined' } },
    }),
    reason: 'seccompProfile',
    detail: 'pod and containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"',
  },
  {
    name: 'seccompProfile_baseline reads the alpha annotations before v1.19',
    id: 'seccompProfile_baseline',
    version: 18,
    spec: spec([c('a'), c('b'), c('ok')], { securityContext: { seccompProfile: { type: 'Unconfined' } } }),
    meta: {
      annotations: {
        'seccomp.security.alpha.kubernetes.io/pod': 'unconfined',
        'container.seccomp.security.alpha.kubernetes.io/b': 'unknown',
        'container.seccomp.security.alpha.kubernetes.io/a': 'unconfined',
        'container.seccomp.security.alpha.kubernetes.io/ok': 'docker/default',
      },
    },
    reason: 'seccompProfile',
    detail:
      'forbidden annotations container.seccomp.security.alpha.kubernetes.io/a="unconfined", ' +
      'container.seccomp.security.alpha.kubernetes.io/b="unknown", seccomp.security.alpha.kubernetes.io/pod="unconfined"',
  },
  {
    name: 'seccompProfile_baseline ignores the annotations from v1.19',
    id: 'seccompProfile_baseline',
    version: 19,
    spec: spec([c('a')]),
    meta: { annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'unconfined' } },
  },
  // sysctls
  { name: 'sysctls allows the safe set', id: 'sysctls', spec: spec([c('a')], { securityContext: { sysctls: [{ name: 'kernel.shm_rmid_forced', value: '1' }] } }) },
  {
    name: 'sysctls refuses others in order',
    id: 'sysctls',
    spec: spec([c('a')], { securityContext: { sysctls: [{ name: 'b', value: '1' }, { name: 'net.ipv4.tcp_syncookies', value: '1' }, { name: 'a', value: '1' }] } }),
    reason: 'forbidden sysctls',
    detail: 'b, a',
  },
  { name: 'sysctls allows tcp_rmem from v1.32', id: 'sysctls', version: 32, spec: spec([c('a')], { securityContext: { sysctls: [{ name: 'net.ipv4.tcp_rmem', value: '1' }] } }) },
  {
    name: 'sysctls refuses tcp_rmem before v1.32',
    id: 'sysctls',
    version: 31,
    spec: spec([c('a')], { securityContext: { sysctls: [{ name: 'net.ipv4.tcp_rmem', value: '1' }] } }),
    reason: 'forbidden sysctls',
    detail: 'net.ipv4.tcp_rmem',
  },
  {
    name: 'sysctls refuses tcp_keepalive_time before v1.29',
    id: 'sysctls',
    version: 28,
    spec: spec([c('a')], { securityContext: { sysctls: [{ name: 'net.ipv4.tcp_keepalive_time', value: '1' }] } }),
    reason: 'forbidden sysctls',
    detail: 'net.ipv4.tcp_keepalive_time',
  },
  {
    name: 'sysctls refuses ip_local_reserved_ports before v1.27',
    id: 'sysctls',
    version: 26,
    spec: spec([c('a')], { securityContext: { sysctls: [{ name: 'net.ipv4.ip_local_reserved_ports', value: '1' }] } }),
    reason: 'forbidden sysctls',
    detail: 'net.ipv4.ip_local_reserved_ports',
  },
  // windowsHostProcess
  { name: 'windowsHostProcess allows false', id: 'windowsHostProcess', spec: spec([sc('a', { windowsOptions: { hostProcess: false } })]) },
  {
    name: 'windowsHostProcess refuses pod and containers',
    id: 'windowsHostProcess',
    spec: spec([sc('e', { windowsOptions: { hostProcess: true } }), sc('f', { windowsOptions: { hostProcess: true } })], { securityContext: { windowsOptions: { hostProcess: true } } }),
    reason: 'hostProcess',
    detail: 'pod and containers "e", "f" must not set securityContext.windowsOptions.hostProcess=true',
  },

  // allowPrivilegeEscalation
  { name: 'allowPrivilegeEscalation allows false', id: 'allowPrivilegeEscalation', spec: spec([sc('a', { allowPrivilegeEscalation: false })]) },
  {
    name: 'allowPrivilegeEscalation refuses unset and true',
    id: 'allowPrivilegeEscalation',
    spec: spec([c('a'), sc('b', { allowPrivilegeEscalation: true }), sc('c', { allowPrivilegeEscalation: false })]),
    reason: 'allowPrivilegeEscalation != false',
    detail: 'containers "a", "b" must set securityContext.allowPrivilegeEscalation=false',
  },
  { name: 'allowPrivilegeEscalation passes Windows pods from v1.25', id: 'allowPrivilegeEscalation', version: 25, spec: spec([c('a')], { os: { name: 'windows' } }) },
  {
    name: 'allowPrivilegeEscalation checks Windows pods before v1.25',
    id: 'allowPrivilegeEscalation',
    version: 24,
    spec: spec([c('a')], { os: { name: 'windows' } }),
    reason: 'allowPrivilegeEscalation != false',
    detail: 'container "a" must set securityContext.allowPrivilegeEscalation=false',
  },
  { name: 'allowPrivilegeEscalation does not exist before v1.8', id: 'allowPrivilegeEscalation', version: 7, spec: spec([c('a')]) },
  // capabilities_restricted
  {
    name: 'capabilities_restricted allows drop ALL and adding NET_BIND_SERVICE',
    id: 'capabilities_restricted',
    spec: spec([sc('a', { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } })]),
  },
  {
    name: 'capabilities_restricted refuses a container without capabilities',
    id: 'capabilities_restricted',
    spec: spec([c('a')]),
    reason: 'unrestricted capabilities',
    detail: 'container "a" must set securityContext.capabilities.drop=["ALL"]',
  },
  {
    name: 'capabilities_restricted names missing drops and forbidden adds',
    id: 'capabilities_restricted',
    spec: spec([
      sc('a', { capabilities: { add: ['FOO'] } }),
      sc('b', { capabilities: { drop: ['NET_RAW'], add: ['BAR', 'CHOWN'] } }),
      sc('c', { capabilities: { drop: ['ALL'], add: ['BAZ', 'NET_BIND_SERVICE'] } }),
    ]),
    reason: 'unrestricted capabilities',
    detail: 'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; containers "a", "b", "c" must not include "BAR", "BAZ", "CHOWN", "FOO" in securityContext.capabilities.add',
  },
  { name: 'capabilities_restricted passes Windows pods from v1.25', id: 'capabilities_restricted', spec: spec([c('a')], { os: { name: 'windows' } }) },
  // restrictedVolumes
  {
    name: 'restrictedVolumes allows the inline sources of the restricted profile',
    id: 'restrictedVolumes',
    spec: spec([c('a')], {
      volumes: [
        { name: 'a', configMap: { name: 'x' } },
        { name: 'b', secret: { secretName: 'x' } },
        { name: 'c', emptyDir: {} },
        { name: 'd', projected: { sources: [] } },
        { name: 'e', downwardAPI: {} },
        { name: 'f', persistentVolumeClaim: { claimName: 'x' } },
        { name: 'g', csi: { driver: 'x' } },
        { name: 'h', ephemeral: {} },
        { name: 'i', image: { reference: 'x' } },
      ],
    }),
  },
  {
    name: 'restrictedVolumes refuses one',
    id: 'restrictedVolumes',
    spec: spec([c('a')], { volumes: [{ name: 'a', gitRepo: { repository: 'r' } }] }),
    reason: 'restricted volume types',
    detail: 'volume "a" uses restricted volume type "gitRepo"',
  },
  {
    name: 'restrictedVolumes refuses several, types sorted and deduplicated',
    id: 'restrictedVolumes',
    spec: spec([c('a')], {
      volumes: [
        { name: 'a', nfs: { server: 's', path: '/' } },
        { name: 'b', hostPath: { path: '/' } },
        { name: 'c', emptyDir: {} },
        { name: 'd', nfs: { server: 's', path: '/' } },
        { name: 'e' },
      ],
    }),
    reason: 'restricted volume types',
    detail: 'volumes "a", "b", "d", "e" use restricted volume types "hostPath", "nfs", "unknown"',
  },
  // runAsNonRoot
  { name: 'runAsNonRoot allows a pod-level true', id: 'runAsNonRoot', spec: spec([c('a'), sc('b', { runAsNonRoot: true })], { securityContext: { runAsNonRoot: true } }) },
  { name: 'runAsNonRoot allows every container true', id: 'runAsNonRoot', spec: spec([sc('a', { runAsNonRoot: true })]) },
  {
    name: 'runAsNonRoot refuses containers that do not set it',
    id: 'runAsNonRoot',
    spec: spec([c('a'), c('b'), sc('c', { runAsNonRoot: true })]),
    reason: 'runAsNonRoot != true',
    detail: 'pod or containers "a", "b" must set securityContext.runAsNonRoot=true',
  },
  {
    name: 'runAsNonRoot names explicit false first',
    id: 'runAsNonRoot',
    spec: spec([c('a'), sc('c', { runAsNonRoot: false }), sc('d', { runAsNonRoot: false })], { securityContext: { runAsNonRoot: false } }),
    reason: 'runAsNonRoot != true',
    detail: 'pod and containers "c", "d" must not set securityContext.runAsNonRoot=false',
  },
  {
    name: 'runAsNonRoot refuses a container false under a pod-level true',
    id: 'runAsNonRoot',
    spec: spec([sc('a', { runAsNonRoot: false })], { securityContext: { runAsNonRoot: true } }),
    reason: 'runAsNonRoot != true',
    detail: 'container "a" must not set securityContext.runAsNonRoot=false',
  },
  // runAsUser
  { name: 'runAsUser allows non-zero', id: 'runAsUser', spec: spec([sc('a', { runAsUser: 1000 })], { securityContext: { runAsUser: 1 } }) },
  {
    name: 'runAsUser refuses 0',
    id: 'runAsUser',
    spec: spec([c('a'), sc('c', { runAsUser: 0 }), sc('d', { runAsUser: 0 })], { securityContext: { runAsUser: 0 } }),
    reason: 'runAsUser=0',
    detail: 'pod and containers "c", "d" must not set runAsUser=0',
  },
  { name: 'runAsUser does not exist before v1.23', id: 'runAsUser', version: 22, spec: spec([sc('a', { runAsUser: 0 })]) },
  // seccompProfile_restricted
  {
    name: 'seccompProfile_restricted allows a pod-level profile',
    id: 'seccompProfile_restricted',
    spec: spec([c('a'), sc('b', { seccompProfile: { type: 'Localhost', localhostProfile: 'p' } })], { securityContext: { seccompProfile: { type: 'RuntimeDefault' } } }),
  },
  {
    name: 'seccompProfile_restricted refuses containers without a profile',
    id: 'seccompProfile_restricted',
    spec: spec([c('a')]),
    reason: 'seccompProfile',
    detail: 'pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
  },
  {
    name: 'seccompProfile_restricted names explicit bad values first',
    id: 'seccompProfile_restricted',
    spec: spec([c('a'), sc('c', { seccompProfile: { type: 'Unconfined' } })], { securityContext: { seccompProfile: { type: 'Unconfined' } } }),
    reason: 'seccompProfile',
    detail: 'pod and container "c" must not set securityContext.seccompProfile.type to "Unconfined"',
  },
  { name: 'seccompProfile_restricted passes Windows pods from v1.25', id: 'seccompProfile_restricted', spec: spec([c('a')], { os: { name: 'windows' } }) },
  {
    name: 'seccompProfile_restricted checks Windows pods before v1.25',
    id: 'seccompProfile_restricted',
    version: 24,
    spec: spec([c('a')], { os: { name: 'windows' } }),
    reason: 'seccompProfile',
    detail: 'pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
  },
];

for (const tc of cases) {
  test(tc.name, () => {
    const got = run(tc.id, tc.version ?? 'latest', tc.spec, tc.meta);
    const want: CheckResult = tc.reason ? { allowed: false, reason: tc.reason, detail: tc.detail } : { allowed: true };
    assert.deepEqual(got, want);
  });
}

test('every check has an upstream id, a level and strictly increasing versions', () => {
  const ids = [...baselineChecks, ...restrictedChecks].map((c) => c.id);
  assert.deepEqual(ids.sort(), [
    'allowPrivilegeEscalation',
    'appArmorProfile',
    'capabilities_baseline',
    'capabilities_restricted',
    'hostNamespaces',
    'hostPathVolumes',
    'hostPorts',
    'privileged',
    'procMount',
    'restrictedVolumes',
    'runAsNonRoot',
    'runAsUser',
    'seLinuxOptions',
    'seccompProfile_baseline',
    'seccompProfile_restricted',
    'sysctls',
    'windowsHostProcess',
  ]);
  for (const c of [...baselineChecks, ...restrictedChecks]) {
    const vs = c.versions.map((v) => v.minimumVersion);
    assert.deepEqual(vs, [...vs].sort((a, b) => a - b), c.id);
    assert.equal(new Set(vs).size, vs.length, c.id);
  }
});

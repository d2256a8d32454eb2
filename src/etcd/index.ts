/**
 * Embedded etcd managed by Bosun (k3s's `--cluster-init` / `--server` join / `--cluster-reset`):
 * the member PKI (certs.ts), the etcd child process (member.ts), cluster membership and reset
 * (cluster.ts), and the controller that removes the member of a deleted server Node
 * (memberremoval.ts). The join protocol, bootstrap data, tokens, supervisor endpoints and
 * snapshots live beside them (bootstrap.ts, token.ts, supervisor.ts, snapshot.ts).
 */
export { ensureEtcdPki, etcdPkiPaths, etcdCaFiles, type EtcdPki, type EnsureEtcdPkiOptions } from './certs.ts';
export {
  startMember,
  isMemberDataDir,
  memberArgs,
  memberDefaults,
  checkHealth,
  readTls,
  logTail,
  urlFor,
  initialClusterString,
  type MemberOptions,
  type EtcdMember,
  type TlsMaterial,
} from './member.ts';
export {
  connectEtcd,
  listMembers,
  addMember,
  removeMember,
  initialClusterFor,
  clusterReset,
  clusterResetDoneMessage,
  unhealthyRetryMs,
  clusterCallTimeoutMs,
  type MemberInfo,
  type ClusterClient,
  type ClusterResetOptions,
} from './cluster.ts';
export { runMemberRemoval, annotateOwnNode, nodeNameAnnotation, nodeAddressAnnotation, etcdRoleLabel, type MemberRemovalDeps } from './memberremoval.ts';

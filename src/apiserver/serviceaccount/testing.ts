/**
 * Fixtures for this folder's tests: signing keys (made once per process), small object builders
 * and in-memory lookups. Not for production code.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Node, Pod, Secret, ServiceAccount } from '../../api/index.ts';
import type { ServiceAccountLookups } from './authenticator.ts';
import { signingKey, type SigningKey } from './keys.ts';

let rsa: SigningKey | undefined;
let rsa2: SigningKey | undefined;
let ec: SigningKey | undefined;

/** An RSA 2048 signing key, the same for the whole test process. */
export function rsaKey(): SigningKey {
  return (rsa ??= signingKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey));
}

/** A second, different RSA key. */
export function otherRsaKey(): SigningKey {
  return (rsa2 ??= signingKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey));
}

/** An ECDSA P-256 signing key. */
export function ecKey(): SigningKey {
  return (ec ??= signingKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey));
}

export const issuer = 'https://kubernetes.default.svc.cluster.local';
export const now = new Date('2026-03-01T12:00:00.250Z');

export function serviceAccount(name = 'builder', namespace = 'ns1', uid = 'sa-uid-1'): ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, uid } };
}

export function pod(name = 'web', opts: { namespace?: string; uid?: string; serviceAccountName?: string; nodeName?: string; deletionTimestamp?: string } = {}): Pod {
  const p: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: opts.namespace ?? 'ns1', uid: opts.uid ?? 'pod-uid-1' },
    spec: { containers: [{ name: 'c', image: 'busybox' }], serviceAccountName: opts.serviceAccountName ?? 'builder' },
  };
  if (opts.nodeName) p.spec!.nodeName = opts.nodeName;
  if (opts.deletionTimestamp) p.metadata.deletionTimestamp = opts.deletionTimestamp;
  return p;
}

export function secret(name = 'tok', opts: { namespace?: string; uid?: string; token?: string; labels?: Record<string, string>; deletionTimestamp?: string } = {}): Secret {
  const s: Secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: opts.namespace ?? 'ns1', uid: opts.uid ?? 'secret-uid-1' }, type: 'kubernetes.io/service-account-token' };
  if (opts.token !== undefined) s.data = { token: Buffer.from(opts.token).toString('base64') };
  if (opts.labels) s.metadata.labels = opts.labels;
  if (opts.deletionTimestamp) s.metadata.deletionTimestamp = opts.deletionTimestamp;
  return s;
}

export function node(name = 'node-a', uid = 'node-uid-1'): Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, uid } };
}

/** Lookups over a mutable set of objects (delete from the maps to simulate deletion). */
export interface FakeObjects {
  serviceAccounts: Map<string, ServiceAccount>;
  pods: Map<string, Pod>;
  secrets: Map<string, Secret>;
  nodes: Map<string, Node>;
  lookups: ServiceAccountLookups;
}

export function fakeObjects(objs: { serviceAccounts?: ServiceAccount[]; pods?: Pod[]; secrets?: Secret[]; nodes?: Node[] } = {}): FakeObjects {
  const key = (o: { metadata: { namespace?: string; name?: string } }) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const serviceAccounts = new Map((objs.serviceAccounts ?? []).map((o) => [key(o), o]));
  const pods = new Map((objs.pods ?? []).map((o) => [key(o), o]));
  const secrets = new Map((objs.secrets ?? []).map((o) => [key(o), o]));
  const nodes = new Map((objs.nodes ?? []).map((o) => [key(o), o]));
  return {
    serviceAccounts,
    pods,
    secrets,
    nodes,
    lookups: {
      getServiceAccount: (ns, name) => serviceAccounts.get(`${ns}/${name}`),
      getPod: (ns, name) => pods.get(`${ns}/${name}`),
      getSecret: async (ns, name) => secrets.get(`${ns}/${name}`),
      getNode: (name) => nodes.get(`/${name}`),
    },
  };
}

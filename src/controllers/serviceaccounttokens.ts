/**
 * The ServiceAccount tokens controller (`serviceaccount-token`), as upstream's
 * (pkg/controller/serviceaccount/tokens_controller.go, run by kube-controller-manager with
 * --service-account-private-key-file). It no longer creates token Secrets itself (upstream
 * stopped in 1.24); it serves the ones people create:
 *
 * - A Secret of type `kubernetes.io/service-account-token` annotated
 *   `kubernetes.io/service-account.name` (and optionally `.uid`) whose service account exists
 *   (with that uid, when given) gets `data.token` (a legacy token signed with the key: issuer
 *   `kubernetes/serviceaccount`, the flat `kubernetes.io/serviceaccount/…` claims, no expiry),
 *   `data.ca.crt` (the root CA, rewritten when it differs), `data.namespace`, and both
 *   annotations. Fields already present are kept; the write is skipped when the cached Secret
 *   is behind the live one (its update event comes next), and is an update of the live copy.
 * - Such a Secret whose service account is missing (live lookup) or has another uid is deleted,
 *   with the Secret's uid as precondition.
 * - A deleted ServiceAccount takes its token Secrets with it (those naming it, and its uid when
 *   they carry one); a deleted token Secret is removed from its ServiceAccount's `secrets`.
 *
 * The two queues carry what a deleted object no longer tells (upstream's keys): a
 * ServiceAccount's `namespace/name/uid`, a Secret's namespace, name, uid and the service account
 * it names. Departure from Bosun's `{namespace, name}` keys for that reason. A key failing ten
 * times is dropped (upstream's MaxRetries). Without a signing key the controller does nothing,
 * as upstream's is not started without --service-account-private-key-file.
 */
import type { Secret, ServiceAccount } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { clientset, IndexNamespace, resources, TerminalError } from '../client/index.ts';
import { issueToken, legacyClaims, parseSigningKeyPem, type SigningKey } from '../apiserver/serviceaccount/index.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';

export const serviceAccountTokenType = 'kubernetes.io/service-account-token';
export const serviceAccountNameAnnotation = 'kubernetes.io/service-account.name';
export const serviceAccountUidAnnotation = 'kubernetes.io/service-account.uid';
/** Upstream's MaxRetries default: a key failing this many times is dropped. */
export const maxRetries = 10;
/** Upstream's --concurrent-serviceaccount-token-syncs default. */
export const tokenSyncWorkers = 5;

/** What the manager adds to the context for this controller (see manager.ts). */
export interface ServiceAccountTokenContext {
  /** The PEM private key tokens are signed with (upstream's --service-account-private-key-file); none: the controller is off. */
  serviceAccountPrivateKeyPem?: string;
  /** The CA written as ca.crt (upstream's --root-ca-file); shared with the root CA publisher. */
  rootCaPem?: string;
}

/** Whether a Secret is a token of this ServiceAccount (apiserver's IsServiceAccountToken). */
export function isServiceAccountToken(secret: Secret, sa: { name: string; uid: string }): boolean {
  if (secret.type !== serviceAccountTokenType) return false;
  const a = secret.metadata.annotations ?? {};
  if (a[serviceAccountNameAnnotation] !== sa.name) return false;
  const uid = a[serviceAccountUidAnnotation];
  return !uid || uid === sa.uid;
}

/** Which of ca.crt, namespace and token a Secret lacks (upstream's secretUpdateNeeded). */
export function secretUpdateNeeded(secret: Secret, rootCaPem: string | undefined): { ca: boolean; namespace: boolean; token: boolean } {
  const data = secret.data ?? {};
  const bytes = (k: string) => Buffer.from(data[k] ?? '', 'base64');
  const ca = !!rootCaPem && !bytes('ca.crt').equals(Buffer.from(rootCaPem));
  return { ca, namespace: bytes('namespace').length === 0, token: bytes('token').length === 0 };
}

/**
 * The Secret with what it lacks filled in, for a service account (pure apart from signing):
 * ca.crt, namespace, a legacy token, and the name and uid annotations.
 */
export function populatedTokenSecret(secret: Secret, sa: ServiceAccount, key: SigningKey, rootCaPem: string | undefined): Secret {
  const need = secretUpdateNeeded(secret, rootCaPem);
  const out = structuredClone(secret);
  const data = (out.data ??= {});
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  if (need.ca) data['ca.crt'] = b64(rootCaPem!);
  if (need.namespace) data['namespace'] = b64(out.metadata.namespace ?? '');
  if (need.token) {
    const claims = legacyClaims({ namespace: sa.metadata.namespace ?? '', name: sa.metadata.name ?? '', uid: sa.metadata.uid ?? '' }, out.metadata.name ?? '');
    data['token'] = b64(issueToken(key, claims));
  }
  out.metadata.annotations = { ...out.metadata.annotations, [serviceAccountNameAnnotation]: sa.metadata.name ?? '', [serviceAccountUidAnnotation]: sa.metadata.uid ?? '' };
  return out;
}

interface SecretKey {
  namespace: string;
  name: string;
  uid: string;
  saName: string;
  /** Empty for a Secret without the uid annotation. */
  saUid: string;
}

const secretKey = (s: Secret): string =>
  JSON.stringify([s.metadata.namespace ?? '', s.metadata.name ?? '', s.metadata.uid ?? '', s.metadata.annotations?.[serviceAccountNameAnnotation] ?? '', s.metadata.annotations?.[serviceAccountUidAnnotation] ?? '']);

function parseSecretKey(key: string): SecretKey | undefined {
  const [namespace, name, uid, saName, saUid] = JSON.parse(key) as string[];
  if (!namespace || !name || !uid || !saName) return undefined;
  return { namespace, name, uid, saName, saUid: saUid ?? '' };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startServiceAccountTokensController(ctx: ControllerContext): void {
  const extra = ctx as ControllerContext & ServiceAccountTokenContext;
  if (!extra.serviceAccountPrivateKeyPem) {
    ctx.log('serviceaccount-token: no service account private key given; the controller is off');
    return;
  }
  let key: SigningKey;
  try {
    key = parseSigningKeyPem(extra.serviceAccountPrivateKeyPem);
  } catch (err) {
    ctx.log(`serviceaccount-token: error reading key for service account token controller: ${(err as Error).message}`);
    return;
  }
  const rootCaPem = extra.rootCaPem;
  const cs = clientset(ctx.client);
  const serviceAccounts = ctx.informers.typedInformerFor(resources.serviceAccounts);
  const secrets = ctx.informers.typedInformerFor(resources.secrets, { fieldSelector: `type=${serviceAccountTokenType}` });
  const waitFor = [serviceAccounts, secrets];

  /** Upstream's retryOrForget: failures are retried with backoff, at most maxRetries times. */
  const limited = (queue: () => { numRequeues(k: string): number }, fn: (k: string) => Promise<void>) => async (k: string) => {
    try {
      await fn(k);
    } catch (err) {
      if (queue().numRequeues(k) >= maxRetries) throw new TerminalError(`retried ${maxRetries} times: ${(err as Error).message}`);
      throw err;
    }
  };
  const saQueue = startQueue(ctx, limited(() => saQueue, syncServiceAccount), { name: 'serviceaccount-token-service', workers: tokenSyncWorkers, waitFor });
  const secretQueue = startQueue(ctx, limited(() => secretQueue, syncSecret), { name: 'serviceaccount-token-secret', workers: tokenSyncWorkers, waitFor });

  const onServiceAccount = (sa: ServiceAccount) => saQueue.add(`${sa.metadata.namespace}/${sa.metadata.name}/${sa.metadata.uid}`);
  serviceAccounts.addEventHandler({ onAdd: onServiceAccount, onUpdate: (_o, sa) => onServiceAccount(sa), onDelete: onServiceAccount });
  const onSecret = (s: Secret) => {
    if (s.type === serviceAccountTokenType) secretQueue.add(secretKey(s));
  };
  secrets.addEventHandler({ onAdd: onSecret, onUpdate: (_o, s) => onSecret(s), onDelete: onSecret });

  /** The cached ServiceAccount with this uid (any when uid is empty); on a miss, with `live`, the API's. */
  async function getServiceAccount(namespace: string, name: string, uid: string, live: boolean): Promise<ServiceAccount | undefined> {
    const cached = serviceAccounts.store.get(`${namespace}/${name}`);
    if (cached && (!uid || cached.metadata.uid === uid)) return cached;
    if (!live) return undefined;
    try {
      const sa = await cs.serviceAccounts.get(name, { namespace });
      return !uid || sa.metadata.uid === uid ? sa : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Deletes a Secret if it still has this uid; gone or replaced already is fine. */
  async function deleteToken(namespace: string, name: string, uid: string): Promise<void> {
    try {
      await cs.secrets.delete(name, { namespace, ...(uid ? { preconditions: { uid } } : {}) });
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return;
      throw err;
    }
  }

  /** A ServiceAccount's key: when it is gone (or replaced), its token Secrets go too. */
  async function syncServiceAccount(k: string): Promise<void> {
    const [namespace = '', name = '', uid = ''] = k.split('/');
    if (!namespace || !name || !uid) return;
    if (await getServiceAccount(namespace, name, uid, false)) return;
    const tokens = secrets.store.byIndex(IndexNamespace, namespace).filter((s) => isServiceAccountToken(s, { name, uid }));
    const errs: string[] = [];
    for (const s of tokens) await deleteToken(namespace, s.metadata.name!, s.metadata.uid ?? '').catch((err: Error) => errs.push(err.message));
    if (errs.length) throw new Error(`error deleting serviceaccount tokens for ${namespace}/${name}: ${errs.join(', ')}`);
  }

  async function syncSecret(k: string): Promise<void> {
    const info = parseSecretKey(k);
    if (!info) return;
    const cached = secrets.store.get(`${info.namespace}/${info.name}`);
    const secret = cached && cached.metadata.uid === info.uid ? cached : undefined;
    if (!secret) {
      // Gone: its ServiceAccount (if still there) no longer references it.
      if (await getServiceAccount(info.namespace, info.saName, info.saUid, false)) await removeSecretReference(info);
      return;
    }
    const sa = await getServiceAccount(info.namespace, info.saName, info.saUid, true);
    if (!sa) {
      await deleteToken(info.namespace, info.name, info.uid);
      return;
    }
    await generateTokenIfNeeded(sa, secret);
  }

  async function generateTokenIfNeeded(sa: ServiceAccount, cached: Secret): Promise<void> {
    const need = (s: Secret) => Object.values(secretUpdateNeeded(s, rootCaPem)).some(Boolean);
    if (!need(cached)) return;
    const namespace = cached.metadata.namespace!;
    let live: Secret;
    try {
      live = await cs.secrets.get(cached.metadata.name!, { namespace });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    // Our view is behind: the update event that follows brings this Secret back.
    if (live.metadata.resourceVersion !== cached.metadata.resourceVersion || !need(live)) return;
    try {
      await cs.secrets.update(populatedTokenSecret(live, sa, key, rootCaPem), { namespace });
    } catch (err) {
      // Changed meanwhile (its event comes next) or deleted: nothing to do now.
      if (isConflict(err) || isNotFound(err)) return;
      throw err;
    }
  }

  /** Takes a deleted Secret's name out of its ServiceAccount's `secrets`, retrying conflicts (upstream's RemoveTokenBackoff). */
  async function removeSecretReference(info: SecretKey): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        let sa: ServiceAccount;
        try {
          sa = await cs.serviceAccounts.get(info.saName, { namespace: info.namespace });
        } catch (err) {
          if (isNotFound(err)) return;
          throw err;
        }
        if (info.saUid && sa.metadata.uid !== info.saUid) return;
        if (!(sa.secrets ?? []).some((r) => r.name === info.name)) return;
        await cs.serviceAccounts.update({ ...sa, secrets: (sa.secrets ?? []).filter((r) => r.name !== info.name) }, { namespace: info.namespace });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err) || attempt >= 10) {
          ctx.log(`serviceaccount-token: removing secret reference ${info.namespace}/${info.name} from service account ${info.saName}: ${(err as Error).message}`);
          return;
        }
        await sleep(100 + Math.random() * 100);
      }
    }
  }
}

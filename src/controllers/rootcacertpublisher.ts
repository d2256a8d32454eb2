/**
 * The root CA certificate publisher, as upstream's (pkg/controller/certificates/rootcacertpublisher):
 * every namespace that is not terminating holds a ConfigMap `kube-root-ca.crt` whose `ca.crt` is
 * the cluster CA (upstream's `--root-ca-file`; Bosun: the CA the controller manager signs with),
 * annotated with upstream's description. A missing one is created, an edited one is put back,
 * a deleted one comes back. Pods' projected service account volumes read it.
 */
import { isAlreadyExists, isNotFound } from '../api/errors.ts';
import type { ConfigMap } from '../api/index.ts';
import { clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';

export const rootCaConfigMapName = 'kube-root-ca.crt';
export const rootCaDescriptionAnnotation = 'kubernetes.io/description';
/** Upstream's annotation value, word for word (clients read it). */
export const rootCaDescription =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

/** What the controller needs beyond the common context: the CA to publish. */
export interface RootCaContext {
  rootCaPem?: string;
}

/** The ConfigMap as it should be (pure). */
export function wantedRootCaConfigMap(namespace: string, caPem: string): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: rootCaConfigMapName, namespace, annotations: { [rootCaDescriptionAnnotation]: rootCaDescription } }, data: { 'ca.crt': caPem } };
}

/** Whether an existing ConfigMap needs rewriting: data must be exactly ca.crt, the annotation present. */
export function rootCaNeedsUpdate(cm: ConfigMap, caPem: string): boolean {
  const data = cm.data ?? {};
  return Object.keys(data).length !== 1 || data['ca.crt'] !== caPem || cm.metadata.annotations?.[rootCaDescriptionAnnotation] !== rootCaDescription || Object.keys(cm.binaryData ?? {}).length > 0;
}

export function startRootCaCertPublisher(ctx: ControllerContext): void {
  const caPem = (ctx as ControllerContext & RootCaContext).rootCaPem;
  if (!caPem) {
    ctx.log('root-ca-cert-publisher: no root CA given; not publishing kube-root-ca.crt');
    return;
  }
  const namespaces = ctx.informers.typedInformerFor(resources.namespaces);
  const configMaps = ctx.informers.typedInformerFor(resources.configMaps, { fieldSelector: `metadata.name=${rootCaConfigMapName}` });
  const cs = clientset(ctx.client);
  const queue = startQueue(ctx, sync, { name: 'root-ca-cert-publisher', workers: 1, waitFor: [namespaces, configMaps] });
  namespaces.addEventHandler({ onAdd: (ns) => queue.add(ns.metadata.name!), onUpdate: (_o, ns) => queue.add(ns.metadata.name!) });
  const onConfigMap = (cm: ConfigMap) => queue.add(cm.metadata.namespace!);
  configMaps.addEventHandler({ onUpdate: (_o, cm) => onConfigMap(cm), onDelete: onConfigMap });

  async function sync(namespace: string): Promise<void> {
    const ns = namespaces.store.get(namespace);
    if (!ns || ns.status?.phase === 'Terminating' || ns.metadata.deletionTimestamp) return;
    const cur = configMaps.store.get(`${namespace}/${rootCaConfigMapName}`) as ConfigMap | undefined;
    try {
      if (!cur) {
        await cs.configMaps.create(wantedRootCaConfigMap(namespace, caPem!), { namespace });
      } else if (rootCaNeedsUpdate(cur, caPem!)) {
        const want = wantedRootCaConfigMap(namespace, caPem!);
        await cs.configMaps.update({ ...cur, metadata: { ...cur.metadata, annotations: { ...cur.metadata.annotations, ...want.metadata.annotations } }, data: want.data, binaryData: undefined }, { namespace });
      }
    } catch (err) {
      // Created meanwhile, or its namespace went: the next event decides.
      if (isAlreadyExists(err) || isNotFound(err)) return;
      throw err;
    }
  }
}

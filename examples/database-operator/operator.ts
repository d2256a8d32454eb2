/**
 * The Database operator: reconciles each `Database` (example.com/v1, ./crd.yaml) into
 *
 * - a Secret `<name>-credentials` with a generated password (made once, never rotated),
 * - a headless Service `<name>` on the engine's port (5432 postgres, 3306 mysql),
 * - a StatefulSet `<name>` of `spec.replicas` servers (image `<engine>:<version>`), each with a
 *   volume of `spec.storage` from a claim template (StorageClass local-path),
 *
 * all controlled by the Database (owner references: deleted with it by the garbage collector),
 * and reports `status.readyReplicas` (from the StatefulSet), `status.phase` and the conditions
 * Ready and Progressing. The finalizer `example.com/cleanup` deletes what the garbage collector
 * would leave behind — the servers' PersistentVolumeClaims — before the Database goes.
 *
 * Level-based and idempotent: every reconcile reads the Database from the cache, writes only
 * what differs (createOrUpdate compares before writing), and updates status only when it
 * changed. A write that conflicts is retried by the queue (status writes by updateStatus).
 */
import {
  addFinalizer,
  containsFinalizer,
  controllerFor,
  createOrUpdate,
  isNotFound,
  removeFinalizer,
  resources,
  setControllerReference,
  setStatusCondition,
  updateStatus,
  type Manager,
  type PersistentVolumeClaim,
  type ReconcileContext,
  type Request,
  type Result,
  type Secret,
  type Service,
  type StatefulSet,
} from 'bosun/operator';
import { randomBytes } from 'node:crypto';
import { databases, type Database, type DatabaseStatus } from './types.ts';

export { databases };
export type { Database };

/** The finalizer that deletes the servers' volume claims. */
export const finalizer = 'example.com/cleanup';
/** The field manager and event source. */
export const component = 'database-operator';

const engines = {
  postgres: { port: 5432, defaultVersion: '16', passwordEnv: 'POSTGRES_PASSWORD', dataPath: '/var/lib/postgresql/data' },
  mysql: { port: 3306, defaultVersion: '8.4', passwordEnv: 'MYSQL_ROOT_PASSWORD', dataPath: '/var/lib/mysql' },
} as const;

/** The labels of everything made for a Database (and the StatefulSet's selector). */
export function labelsFor(db: Database): Record<string, string> {
  return { 'app.kubernetes.io/name': db.spec?.engine ?? 'database', 'app.kubernetes.io/instance': db.metadata.name!, 'app.kubernetes.io/managed-by': component };
}

export interface DatabaseControllerOptions {
  /** Workers. Default 2. */
  maxConcurrentReconciles?: number;
}

/** Adds the Database controller to the manager. */
export function addDatabaseController(mgr: Manager, opts: DatabaseControllerOptions = {}): void {
  const cache = mgr.cache<Database>(databases);
  const sets = mgr.cache<StatefulSet>(resources.statefulSets);
  const events = mgr.eventRecorder(component);
  const client = mgr.client;

  const reconcile = async (req: Request, ctx: ReconcileContext): Promise<Result | void> => {
    const cached = cache.get(req.namespace, req.name);
    if (!cached) return; // gone: its children go with it (owner references)
    const db = structuredClone(cached);

    if (db.metadata.deletionTimestamp) {
      if (!containsFinalizer(db, finalizer)) return;
      await setPhase(db, 'Terminating');
      const selector = Object.entries({ 'app.kubernetes.io/instance': db.metadata.name! }).map(([k, v]) => `${k}=${v}`).join(',');
      await client.deleteCollection(resources.persistentVolumeClaims, { namespace: req.namespace, labelSelector: selector });
      removeFinalizer(db, finalizer);
      await client.update<Database>(databases, db);
      ctx.log('cleaned up; finalizer removed');
      return;
    }
    if (addFinalizer(db, finalizer)) {
      Object.assign(db, await client.update<Database>(databases, db));
    }

    const engine = engines[db.spec?.engine ?? 'postgres'];
    const labels = labelsFor(db);
    const name = db.metadata.name!;
    const namespace = db.metadata.namespace!;
    const replicas = db.spec?.replicas ?? 1;
    const image = `${db.spec?.engine ?? 'postgres'}:${db.spec?.version || engine.defaultVersion}`;

    const secret = await createOrUpdate<Secret>(client, resources.secrets, { metadata: { name: `${name}-credentials`, namespace } }, (s) => {
      s.metadata.labels = { ...s.metadata.labels, ...labels };
      s.type ??= 'Opaque';
      if (!s.data?.['password']) s.stringData = { password: randomBytes(18).toString('base64url') };
      setControllerReference(db, s);
    });
    note(db, 'Secret', secret);

    const svc = await createOrUpdate<Service>(client, resources.services, { metadata: { name, namespace } }, (s) => {
      s.metadata.labels = { ...s.metadata.labels, ...labels };
      if (!s.metadata.resourceVersion) s.spec = { clusterIP: 'None', selector: labels, ports: [{ name: 'db', port: engine.port, targetPort: engine.port, protocol: 'TCP' }], publishNotReadyAddresses: true };
      setControllerReference(db, s);
    });
    note(db, 'Service', svc);

    const sts = await createOrUpdate<StatefulSet>(client, resources.statefulSets, { metadata: { name, namespace } } as StatefulSet, (s) => {
      s.metadata.labels = { ...s.metadata.labels, ...labels };
      const spec = (s.spec = s.metadata.resourceVersion && s.spec ? s.spec : statefulSetSpec(db, labels, engine, image));
      spec.replicas = replicas;
      const c = spec.template.spec?.containers.find((x) => x.name === 'db');
      if (c && c.image !== image) c.image = image;
      setControllerReference(db, s);
    });
    note(db, 'StatefulSet', sts);

    // Status from the StatefulSet as the cache has it (its events bring us back when it changes).
    const current = sets.get(namespace, name) ?? sts.object;
    const ready = current.status?.readyReplicas ?? 0;
    const done = ready >= replicas && (current.status?.observedGeneration ?? 0) >= (current.metadata.generation ?? 0);
    await updateStatus<Database>(client, databases, req, (d) => {
      const s: DatabaseStatus = (d.status ??= {});
      s.readyReplicas = ready;
      s.observedGeneration = d.metadata.generation;
      s.phase = done ? 'Ready' : 'Provisioning';
      const conds = (s.conditions ??= []);
      const gen = d.metadata.generation;
      setStatusCondition(conds, done
        ? { type: 'Ready', status: 'True', reason: 'AllReplicasReady', message: `${ready}/${replicas} servers ready`, observedGeneration: gen }
        : { type: 'Ready', status: 'False', reason: 'ReplicasNotReady', message: `${ready}/${replicas} servers ready`, observedGeneration: gen });
      setStatusCondition(conds, done
        ? { type: 'Progressing', status: 'False', reason: 'Reconciled', message: 'the StatefulSet matches the spec', observedGeneration: gen }
        : { type: 'Progressing', status: 'True', reason: 'Scaling', message: `waiting for ${replicas - ready} server(s)`, observedGeneration: gen });
    }, { signal: ctx.signal }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  };

  const setPhase = (db: Database, phase: string) =>
    updateStatus<Database>(client, databases, { namespace: db.metadata.namespace, name: db.metadata.name! }, (d) => void ((d.status ??= {}).phase = phase)).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });

  const note = (db: Database, kind: string, r: { result: string; object: { metadata: { name?: string } } }) => {
    if (r.result === 'created' || r.result === 'updated') events.event(db, 'Normal', r.result === 'created' ? 'Created' : 'Updated', `${r.result === 'created' ? 'Created' : 'Updated'} ${kind} ${r.object.metadata.name}`);
  };

  controllerFor(mgr, databases)
    .named('database')
    .owns(resources.statefulSets)
    .owns(resources.services)
    .owns(resources.secrets)
    .withOptions({ maxConcurrentReconciles: opts.maxConcurrentReconciles ?? 2 })
    .complete(reconcile);
}

function statefulSetSpec(db: Database, labels: Record<string, string>, engine: (typeof engines)[keyof typeof engines], image: string): NonNullable<StatefulSet['spec']> {
  const claim: PersistentVolumeClaim = {
    metadata: { name: 'data', labels },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'local-path', resources: { requests: { storage: db.spec?.storage ?? '1Gi' } } },
  };
  return {
    serviceName: db.metadata.name!,
    replicas: db.spec?.replicas ?? 1,
    // Servers start and stop together: scaling does not wait for each one in turn.
    podManagementPolicy: 'Parallel',
    selector: { matchLabels: labels },
    template: {
      metadata: { labels },
      spec: {
        containers: [
          {
            name: 'db',
            image,
            ports: [{ name: 'db', containerPort: engine.port, protocol: 'TCP' }],
            env: [{ name: engine.passwordEnv, valueFrom: { secretKeyRef: { name: `${db.metadata.name}-credentials`, key: 'password' } } }],
            volumeMounts: [{ name: 'data', mountPath: engine.dataPath }],
          },
        ],
      },
    },
    volumeClaimTemplates: [claim],
  };
}

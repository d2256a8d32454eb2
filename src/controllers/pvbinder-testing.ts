/**
 * Test fixtures for the storage controllers (PV binder, expansion, ephemeral volumes): runs a
 * controller's start function on its own informer factory against a test API server
 * (./testing.ts), with a recorder that keeps the events it is given, and small builders for
 * volumes, claims and classes. Only tests import this file.
 */
import type { ApiObject, PersistentVolume, PersistentVolumeClaim, StorageClass } from '../api/index.ts';
import { InformerFactory, type Clientset, type ObjectReference, type Recorder, type RestClient } from '../client/index.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { until } from './testing.ts';

export interface RecordedEvent {
  component: string;
  kind: string;
  name: string;
  type: string;
  reason: string;
  message: string;
}

export interface RunningController {
  events: RecordedEvent[];
  logs: string[];
  /** Waits for an event about `name` with `reason` (and a message matching `message`). */
  event(name: string, reason: string, message?: RegExp | string): Promise<RecordedEvent>;
  stop(): Promise<void>;
}

/** Starts `start` (one or more controllers) with a recorder that keeps events. */
export function runControllers(client: RestClient, ...starts: ((ctx: ControllerContext) => void)[]): RunningController {
  const ac = new AbortController();
  const events: RecordedEvent[] = [];
  const logs: string[] = [];
  const informers = new InformerFactory(client, { log: () => {} });
  const recorder = (component: string): Recorder => ({
    event(obj: ApiObject | ObjectReference, type, reason, message) {
      const meta = 'metadata' in obj ? obj.metadata : obj;
      events.push({ component, kind: (obj as { kind?: string }).kind ?? '', name: meta.name ?? '', type, reason, message });
    },
  });
  const ctx: ControllerContext = { client, config: defaultControllerConfig, informers, recorder, signal: ac.signal, log: (m) => logs.push(m) };
  for (const s of starts) s(ctx);
  informers.start(ac.signal);
  return {
    events,
    logs,
    event: (name, reason, message) =>
      until(`event ${reason} on ${name}`, async () =>
        events.find((e) => e.name === name && e.reason === reason && (message === undefined || (typeof message === 'string' ? e.message === message : message.test(e.message)))),
      ),
    async stop() {
      ac.abort();
      await informers.stopped();
    },
  };
}

export function newPv(
  name: string,
  o: { size?: string; modes?: string[]; cls?: string; labels?: Record<string, string>; annotations?: Record<string, string>; claimRef?: { namespace: string; name: string; uid?: string }; policy?: string; node?: string; mode?: string } = {},
): PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, ...(o.labels ? { labels: o.labels } : {}), ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      capacity: { storage: o.size ?? '1Gi' },
      accessModes: o.modes ?? ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: o.policy ?? 'Retain',
      ...(o.cls !== undefined ? { storageClassName: o.cls } : {}),
      ...(o.mode ? { volumeMode: o.mode } : {}),
      ...(o.claimRef ? { claimRef: o.claimRef } : {}),
      ...(o.node
        ? { local: { path: `/mnt/${name}` }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [o.node] }] }] } } }
        : { hostPath: { path: `/tmp/bosun-test/${name}` } }),
    },
  };
}

export function newClaim(
  name: string,
  namespace: string,
  o: { size?: string; modes?: string[]; cls?: string | null; selector?: Record<string, string>; volumeName?: string; annotations?: Record<string, string>; mode?: string } = {},
): PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      accessModes: o.modes ?? ['ReadWriteOnce'],
      resources: { requests: { storage: o.size ?? '1Gi' } },
      ...(o.cls !== null ? { storageClassName: o.cls ?? '' } : {}),
      ...(o.selector ? { selector: { matchLabels: o.selector } } : {}),
      ...(o.volumeName ? { volumeName: o.volumeName } : {}),
      ...(o.mode ? { volumeMode: o.mode } : {}),
    },
  };
}

export function newClass(name: string, provisioner: string, o: { mode?: string; expand?: boolean; isDefault?: boolean; policy?: string } = {}): StorageClass {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name, ...(o.isDefault ? { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } : {}) },
    provisioner,
    reclaimPolicy: o.policy ?? 'Delete',
    volumeBindingMode: o.mode ?? 'Immediate',
    ...(o.expand ? { allowVolumeExpansion: true } : {}),
  };
}

/** Polls the API for a claim until `ok` holds. */
export function claimWhere(cs: Clientset, ns: string, name: string, what: string, ok: (c: PersistentVolumeClaim) => boolean, ms?: number): Promise<PersistentVolumeClaim> {
  return until(
    `claim ${ns}/${name} ${what}`,
    async () => {
      const c = await cs.persistentVolumeClaims.get(name, { namespace: ns });
      return ok(c) ? c : undefined;
    },
    ms,
  );
}

/** Polls the API for a volume until `ok` holds. */
export function volumeWhere(cs: Clientset, name: string, what: string, ok: (v: PersistentVolume) => boolean, ms?: number): Promise<PersistentVolume> {
  return until(
    `volume ${name} ${what}`,
    async () => {
      const v = await cs.persistentVolumes.get(name);
      return ok(v) ? v : undefined;
    },
    ms,
  );
}

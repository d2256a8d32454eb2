/**
 * The apiextensions controllers that run inside the API server, over its CRD watch cache, as
 * upstream's apiextensions-apiserver runs them:
 *   - naming (NamesAccepted: names free in the group, else PluralConflict, KindConflict, ...),
 *   - establishing (Established: InitialNamesAccepted once the names are accepted),
 *   - serving: an Established CRD's custom resources are registered with the API server (store,
 *     watch cache, discovery, OpenAPI) and re-registered when its spec changes; unserved when the
 *     CRD is gone,
 *   - finalizing: a deleted CRD (Terminating, with the customresourcecleanup finalizer its first
 *     delete added) has every custom resource deleted, then the finalizer removed.
 * Level-triggered: every event marks the CRD (and, for names, its group) dirty; one worker syncs
 * from the cache's current state, retrying failures with a delay.
 */
import type { CustomResourceDefinition, CustomResourceDefinitionCondition, CustomResourceDefinitionNames } from '../api/index.ts';
import type { KubeObject, UserInfo } from '../api/types.ts';
import type { ResourceDef } from '../api/resource.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { registerDynamicTypes, unregisterDynamicTypes, type MessageDef } from '../api/schema/index.ts';
import type { ResourceStore, WriteContext } from '../apiserver/rest.ts';
import { nowRfc3339 } from '../apiserver/rest.ts';
import { customResourceServing, crdCondition, type CustomResourceServing } from './serving.ts';
import { createConverter, type ConverterDeps } from './conversion.ts';

export const cleanupFinalizer = 'customresourcecleanup.apiextensions.k8s.io';

/** What the controllers need of the API server. */
export interface CrdHost {
  /** The CRDs' own store. */
  crds: ResourceStore;
  /** Starts serving a declaration (its store and watch cache), with its versions. */
  serve(def: ResourceDef, versions: CustomResourceServing['versions']): Promise<void>;
  /**
   * Re-registers a served declaration with new versions; its objects are read again through a
   * new watch cache (new defaults show, as upstream's rebuilt storage shows them; open watches end).
   */
  reserve(def: ResourceDef, versions: CustomResourceServing['versions']): Promise<void>;
  /** Stops serving; `dropStore` also stops its watch cache. */
  unserve(def: ResourceDef): void;
  storageFor(def: ResourceDef): ResourceStore;
  log(msg: string): void;
}

/**
 * The CRD kind's delete hook (upstream's CRD REST Delete): the first delete of a CRD adds the
 * cleanup finalizer and the Terminating condition; it stays until the finalizer is removed.
 */
export function crdFinalizing(obj: KubeObject): boolean {
  const meta = obj.metadata;
  if (!meta.deletionTimestamp) {
    const fins = (meta.finalizers ??= []);
    if (!fins.includes(cleanupFinalizer)) fins.push(cleanupFinalizer);
    setCondition(obj as unknown as CustomResourceDefinition, {
      type: 'Terminating',
      status: 'True',
      reason: 'InstanceDeletionPending',
      message: 'CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon',
    });
  }
  return meta.finalizers?.includes(cleanupFinalizer) ?? false;
}

function setCondition(crd: CustomResourceDefinition, c: Omit<CustomResourceDefinitionCondition, 'lastTransitionTime'>): void {
  const status = (crd.status ??= { acceptedNames: { kind: '', plural: '' }, conditions: [], storedVersions: [] } as never);
  const conds = (status.conditions ??= []);
  const i = conds.findIndex((x) => x.type === c.type);
  const old = i >= 0 ? conds[i] : undefined;
  const next: CustomResourceDefinitionCondition = {
    type: c.type,
    status: c.status,
    lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : nowRfc3339(),
    reason: c.reason,
    message: c.message,
  };
  if (i >= 0) conds[i] = next;
  else conds.push(next);
}

const systemUser: UserInfo = { username: 'system:apiserver', groups: ['system:masters'], uid: '' };

interface Served {
  /** What the serving info was built from: the CRD's uid, generation (spec) and accepted names. */
  version: string;
  uid: string;
  def: ResourceDef;
  types: MessageDef[];
  terminating: boolean;
}

export class CrdController {
  #host: CrdHost;
  #deps: ConverterDeps;
  #served = new Map<string, Served>();
  #dirty = new Set<string>();
  #wake: (() => void) | undefined;
  #stopped = false;
  #watchStop: (() => void) | undefined;
  #retryTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Resolves once every CRD present at start has been synced once (served, if Established). */
  #initial: Promise<void>;
  #initialDone!: () => void;

  constructor(host: CrdHost, deps: ConverterDeps) {
    this.#host = host;
    this.#deps = deps;
    this.#initial = new Promise((r) => (this.#initialDone = r));
  }

  /** Starts watching CRDs; resolves once those present are served. */
  async start(): Promise<void> {
    void this.#watchLoop();
    void this.#worker();
    await this.#initial;
  }

  stop(): void {
    this.#stopped = true;
    this.#watchStop?.();
    for (const t of this.#retryTimers) clearTimeout(t);
    this.#wake?.();
  }

  #mark(name: string): void {
    this.#dirty.add(name);
    this.#wake?.();
  }

  async #watchLoop(): Promise<void> {
    let first = true;
    while (!this.#stopped) {
      try {
        const { initial, watch } = await this.#host.crds.watch({ fromRv: 0, initial: true, consistent: false });
        this.#watchStop = () => watch.stop();
        for (const c of initial) this.#mark(c.obj.metadata.name!);
        // Names no longer present (the cache relisted) are synced too: they get unserved.
        for (const name of this.#served.keys()) this.#mark(name);
        if (first) {
          first = false;
          this.#mark('\u0000initial');
        }
        for await (const batch of watch) {
          for (const ev of batch) {
            const crd = ev.object.obj as unknown as CustomResourceDefinition;
            this.#mark(crd.metadata.name!);
            // A CRD's names free or take names of the others in its group.
            for (const c of this.#host.crds.cache.list()) {
              const other = c.obj as unknown as CustomResourceDefinition;
              if (other.spec.group === crd.spec.group && other.metadata.name !== crd.metadata.name) this.#mark(other.metadata.name!);
            }
          }
        }
      } catch (err) {
        if (!this.#stopped) this.#host.log(`crd watch: ${(err as Error).message}`);
      }
      if (!this.#stopped) await new Promise((r) => setTimeout(r, 100));
    }
  }

  async #worker(): Promise<void> {
    while (!this.#stopped) {
      if (!this.#dirty.size) {
        await new Promise<void>((r) => (this.#wake = r));
        this.#wake = undefined;
        continue;
      }
      const [name] = this.#dirty;
      this.#dirty.delete(name!);
      if (name === '\u0000initial') {
        this.#initialDone();
        continue;
      }
      try {
        await this.#sync(name!);
      } catch (err) {
        if (this.#stopped) return;
        if (!isConflict(err) && !isNotFound(err)) this.#host.log(`crd ${name}: ${(err as Error).message}`);
        const t = setTimeout(() => {
          this.#retryTimers.delete(t);
          this.#mark(name!);
        }, isConflict(err) ? 10 : 1000);
        this.#retryTimers.add(t);
      }
    }
  }

  #get(name: string): CustomResourceDefinition | undefined {
    const s = this.#host.crds;
    return s.cache.get(s.key('', name))?.obj as unknown as CustomResourceDefinition | undefined;
  }

  async #sync(name: string): Promise<void> {
    const crd = this.#get(name);
    if (!crd) return this.#unserve(name);
    if (crd.metadata.deletionTimestamp) return this.#finalize(crd);
    if (await this.#updateNames(crd)) return; // the write's event syncs it again
    if (crdCondition(crd, 'Established')?.status !== 'True') return;
    await this.#serve(crd);
  }

  /** NamesAccepted and Established (the naming and establishing controllers); true when it wrote. */
  async #updateNames(crd: CustomResourceDefinition): Promise<boolean> {
    const { names, accepted } = this.#acceptedNames(crd);
    const next = structuredClone(crd);
    next.status ??= { acceptedNames: { kind: '', plural: '' }, conditions: [], storedVersions: [] };
    next.status.acceptedNames = names;
    setCondition(next, accepted);
    const est = crdCondition(crd, 'Established');
    if (accepted.status === 'True') {
      if (est?.status !== 'True') setCondition(next, { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' });
    } else if (!est) {
      setCondition(next, { type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' });
    }
    if (JSON.stringify(next.status) === JSON.stringify(crd.status)) return false;
    await this.#writeStatus(crd, next);
    return true;
  }

  /** Upstream's naming controller: each requested name is taken unless another CRD of the group accepted it. */
  #acceptedNames(crd: CustomResourceDefinition): { names: CustomResourceDefinitionNames; accepted: Omit<CustomResourceDefinitionCondition, 'lastTransitionTime'> } {
    const resources = new Set<string>();
    const kinds = new Set<string>();
    for (const c of this.#host.crds.cache.list()) {
      const o = c.obj as unknown as CustomResourceDefinition;
      if (o.spec.group !== crd.spec.group || o.metadata.name === crd.metadata.name) continue;
      const a = o.status?.acceptedNames;
      if (!a) continue;
      for (const n of [a.plural, a.singular, ...(a.shortNames ?? [])]) if (n) resources.add(n);
      for (const n of [a.kind, a.listKind]) if (n) kinds.add(n);
    }
    const req = crd.spec.names;
    const cur = crd.status?.acceptedNames ?? { kind: '', plural: '' };
    const names: CustomResourceDefinitionNames = { ...cur };
    let cond: Omit<CustomResourceDefinitionCondition, 'lastTransitionTime'> | undefined;
    const fresh = (want: string | undefined, have: string | undefined, used: Set<string>) => (want === have || !want || !used.has(want) ? undefined : `${JSON.stringify(want)} is already in use`);
    const check = (reason: string, err: string | undefined, take: () => void) => {
      if (err) cond = { type: 'NamesAccepted', status: 'False', reason, message: err };
      else take();
    };
    check('PluralConflict', fresh(req.plural, cur.plural, resources), () => (names.plural = req.plural));
    check('SingularConflict', fresh(req.singular, cur.singular, resources), () => (names.singular = req.singular));
    if (JSON.stringify(req.shortNames ?? []) !== JSON.stringify(cur.shortNames ?? [])) {
      const errs = (req.shortNames ?? []).filter((s) => !(cur.shortNames ?? []).includes(s)).map((s) => fresh(s, '', resources)).filter(Boolean);
      check('ShortNamesConflict', errs.length ? (errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`) : undefined, () => {
        if (req.shortNames?.length) names.shortNames = req.shortNames;
        else delete names.shortNames;
      });
    }
    check('KindConflict', fresh(req.kind, cur.kind, kinds), () => (names.kind = req.kind));
    check('ListKindConflict', fresh(req.listKind, cur.listKind, kinds), () => (names.listKind = req.listKind));
    if (req.categories?.length) names.categories = req.categories;
    else delete names.categories;
    for (const k of Object.keys(names) as (keyof CustomResourceDefinitionNames)[]) if (names[k] === undefined) delete names[k];
    return { names, accepted: cond ?? { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' } };
  }

  async #writeStatus(crd: CustomResourceDefinition, next: CustomResourceDefinition): Promise<void> {
    const ctx: WriteContext = { user: systemUser, dryRun: false, version: 'v1' };
    await this.#host.crds.update(
      '',
      crd.metadata.name!,
      (cur) => {
        if (!cur || cur.metadata.resourceVersion !== crd.metadata.resourceVersion) throw Object.assign(new Error('changed'), { status: { reason: 'Conflict' } });
        const out = structuredClone(cur) as unknown as CustomResourceDefinition;
        out.status = next.status;
        return out as unknown as KubeObject;
      },
      ctx,
      { subresource: 'status' },
    );
  }

  async #serve(crd: CustomResourceDefinition): Promise<void> {
    const name = crd.metadata.name!;
    const cur = this.#served.get(name);
    const terminating = crdCondition(crd, 'Terminating')?.status === 'True';
    // Status writes (conditions) change nothing served; a spec change or new accepted names do.
    const version = `${crd.metadata.generation ?? 0}/${JSON.stringify(crd.status?.acceptedNames ?? {})}`;
    if (cur && cur.uid === crd.metadata.uid && cur.version === version) return;
    const state: Served = { version, uid: crd.metadata.uid ?? '', def: undefined as unknown as ResourceDef, types: [], terminating };
    const serving = customResourceServing(crd, { converter: createConverter(crd, this.#deps), terminating: () => state.terminating });
    state.def = serving.def;
    state.types = serving.types;
    registerDynamicTypes(serving.types);
    if (cur && cur.uid === state.uid && sameStorage(cur.def, serving.def)) {
      // Same resource and storage: the declaration object (the store's key) stays; its fields change.
      const keep = cur.def;
      for (const k of Object.keys(keep) as (keyof ResourceDef)[]) delete keep[k];
      Object.assign(keep, serving.def);
      state.def = keep;
      await this.#host.reserve(keep, serving.versions);
      // The new types took their names; those no longer made (a property gone) are forgotten.
      unregisterDynamicTypes(cur.types);
      this.#served.set(name, state);
      return;
    }
    if (cur) this.#drop(name, cur);
    this.#served.set(name, state);
    await this.#host.serve(serving.def, serving.versions);
  }

  #drop(name: string, s: Served): void {
    this.#host.unserve(s.def);
    unregisterDynamicTypes(s.types);
    this.#served.delete(name);
  }

  #unserve(name: string): void {
    const s = this.#served.get(name);
    if (s) this.#drop(name, s);
  }

  /** The finalizer controller: delete every custom resource, then release the CRD. */
  async #finalize(crd: CustomResourceDefinition): Promise<void> {
    if (!crd.metadata.finalizers?.includes(cleanupFinalizer)) return;
    const name = crd.metadata.name!;
    const s = this.#served.get(name);
    if (s) s.terminating = true;
    let remaining = 0;
    if (s) {
      const store = this.#host.storageFor(s.def);
      const ctx: WriteContext = { user: systemUser, dryRun: false, version: s.def.version };
      for (const c of store.cache.list()) {
        const o = c.obj;
        remaining++;
        if (o.metadata.deletionTimestamp) continue;
        try {
          await store.delete(o.metadata.namespace ?? '', o.metadata.name!, {}, ctx);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    }
    if (remaining > 0) {
      const next = structuredClone(crd);
      setCondition(next, { type: 'Terminating', status: 'True', reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' });
      if (JSON.stringify(next.status) !== JSON.stringify(crd.status)) await this.#writeStatus(crd, next);
      // Objects with finalizers of their own go when those are done: look again shortly.
      const t = setTimeout(() => {
        this.#retryTimers.delete(t);
        this.#mark(name);
      }, 500);
      this.#retryTimers.add(t);
      return;
    }
    if (s) this.#drop(name, s);
    const ctx: WriteContext = { user: systemUser, dryRun: false, version: 'v1' };
    await this.#host.crds.update(
      '',
      name,
      (cur) => {
        if (!cur) throw Object.assign(new Error('gone'), { status: { reason: 'NotFound' } });
        const out = structuredClone(cur) as unknown as CustomResourceDefinition;
        setCondition(out, { type: 'Terminating', status: 'False', reason: 'InstanceDeletionCompleted', message: 'removed all instances' });
        out.metadata.finalizers = (out.metadata.finalizers ?? []).filter((f) => f !== cleanupFinalizer);
        if (!out.metadata.finalizers.length) delete out.metadata.finalizers;
        return out as unknown as KubeObject;
      },
      ctx,
    );
  }
}

/** Whether two declarations keep their objects at the same place (so one store serves both). */
function sameStorage(a: ResourceDef, b: ResourceDef): boolean {
  return a.storagePrefix === b.storagePrefix && a.namespaced === b.namespaced && a.group === b.group && a.plural === b.plural;
}

/**
 * The served-resource registry: every (group, version, resource) the server answers, built from
 * the `ResourceDef` declarations (and, later, CRDs at run time). Each entry knows its declaration,
 * the version it serves and, when that is not the storage version, the conversions.
 * Lookups are by group/version/plural, by plural alone (for kubectl's short forms) and by kind.
 */
import type { ResourceDef, ServedVersion, TableDef } from '../api/resource.ts';
import { allVerbs } from '../api/resource.ts';
import type { KubeObject, StatusCause } from '../api/types.ts';
import type { ValidateContext } from '../api/resource.ts';
import { compareStrings } from '../util/compare.ts';

export interface ServedResource {
  def: ResourceDef;
  /** The version this entry serves. */
  version: string;
  /** Conversions when this entry's version is not the storage version. */
  conversion?: ServedVersion;
  apiVersion: string;
  table?: TableDef;
  verbs: readonly string[];
  /** The default hook for this version (storage version's or the served version's own). */
  validateVersion?: (obj: KubeObject, ctx: ValidateContext) => StatusCause[];
  /** Answered by a component in this process, never stored (metrics.k8s.io; ./metricsapi.ts): no storage version. */
  provided?: true;
  /** A provided resource's OpenAPI v3 definitions (its kind's name and the definitions it brings). */
  openapi?: { name: string; schemas: Record<string, Record<string, unknown>>; listName?: string; v2?: Record<string, Record<string, unknown>> };
}

export interface GroupVersions {
  group: string;
  versions: string[];
  preferred: string;
}

export class ResourceRegistry {
  #byPath = new Map<string, ServedResource>();
  #groups = new Map<string, GroupVersions>();
  #byGroupVersion = new Map<string, ServedResource[]>();
  #defs: ResourceDef[] = [];
  /** Bumped on every add and remove: discovery and OpenAPI documents are rebuilt when it moves. */
  generation = 0;

  constructor(defs: readonly ResourceDef[]) {
    for (const def of defs) this.add(def);
  }

  /**
   * Registers a declaration with all its versions. Throws on a duplicate group/version/resource.
   * `provided`: answered by a component in this process rather than stored (./metricsapi.ts),
   * with its OpenAPI definitions (`openapi`), since it has no schema in src/api/schema.
   */
  add(
    def: ResourceDef,
    opts: {
      provided?: boolean;
      openapi?: ServedResource['openapi'];
      /**
       * Serve exactly these versions, each through its conversion (a CRD's served versions: the
       * storage version need not be served, and its entry converts objects stored at older
       * versions); `openapi` per version.
       */
      versions?: readonly { served: ServedVersion; openapi?: ServedResource['openapi'] }[];
    } = {},
  ): void {
    this.#defs.push(def);
    this.generation++;
    const entries: ServedResource[] = [];
    if (opts.versions) {
      for (const v of opts.versions) {
        const e = this.#entry(def, v.served.version, v.served);
        if (v.openapi) e.openapi = v.openapi;
        entries.push(e);
      }
    } else {
      entries.push(this.#entry(def, def.version));
      for (const v of def.otherVersions ?? []) entries.push(this.#entry(def, v.version, v));
    }
    if (opts.provided) for (const e of entries) e.provided = true;
    if (opts.openapi) for (const e of entries) e.openapi = opts.openapi;
    for (const e of entries) {
      const key = pathKey(def.group, e.version, def.plural);
      if (this.#byPath.has(key)) throw new Error(`duplicate resource ${key}`);
      this.#byPath.set(key, e);
      const gvKey = `${def.group}/${e.version}`;
      let list = this.#byGroupVersion.get(gvKey);
      if (!list) this.#byGroupVersion.set(gvKey, (list = []));
      list.push(e);
      let g = this.#groups.get(def.group);
      if (!g) {
        g = { group: def.group, versions: [], preferred: def.preferredVersion ?? def.version };
        this.#groups.set(def.group, g);
      }
      if (!g.versions.includes(e.version)) g.versions.push(e.version);
      if (def.preferredVersion) g.preferred = def.preferredVersion;
    }
    for (const g of this.#groups.values()) g.versions.sort(compareVersions);
  }

  /** Removes a declaration (CRD deletion). */
  remove(def: ResourceDef): void {
    this.#defs = this.#defs.filter((d) => d !== def);
    this.generation++;
    for (const [k, e] of this.#byPath) if (e.def === def) this.#byPath.delete(k);
    for (const [k, list] of this.#byGroupVersion) {
      const rest = list.filter((e) => e.def !== def);
      if (rest.length) this.#byGroupVersion.set(k, rest);
      else this.#byGroupVersion.delete(k);
    }
    this.#groups.clear();
    for (const key of this.#byGroupVersion.keys()) {
      const [group, version] = splitGV(key);
      let g = this.#groups.get(group);
      if (!g) this.#groups.set(group, (g = { group, versions: [], preferred: version }));
      g.versions.push(version);
    }
    for (const g of this.#groups.values()) {
      g.versions.sort(compareVersions);
      const d = this.#defs.find((x) => x.group === g.group);
      g.preferred = d?.preferredVersion ?? d?.version ?? g.versions[0]!;
    }
  }

  get(group: string, version: string, plural: string): ServedResource | undefined {
    return this.#byPath.get(pathKey(group, version, plural));
  }

  /** Served resources of one group-version, in declaration order. */
  resourcesOf(group: string, version: string): readonly ServedResource[] {
    return this.#byGroupVersion.get(`${group}/${version}`) ?? [];
  }

  hasGroupVersion(group: string, version: string): boolean {
    return this.#byGroupVersion.has(`${group}/${version}`);
  }

  /** Groups in registration order, core ('') first. */
  groups(): readonly GroupVersions[] {
    return [...this.#groups.values()];
  }

  defs(): readonly ResourceDef[] {
    return this.#defs;
  }

  /** The declaration whose storage kind is `kind` in `group`. */
  byKind(group: string, kind: string): ResourceDef | undefined {
    return this.#defs.find((d) => d.group === group && d.kind === kind);
  }

  #entry(def: ResourceDef, version: string, conversion?: ServedVersion): ServedResource {
    return {
      def,
      version,
      conversion,
      apiVersion: def.group ? `${def.group}/${version}` : version,
      table: conversion?.table ?? def.table,
      verbs: def.verbs ?? allVerbs,
    };
  }
}

function pathKey(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}

function splitGV(key: string): [string, string] {
  const i = key.lastIndexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** Kubernetes version priority: GA > beta > alpha, then by number, descending (v2 before v1). */
export function compareVersions(a: string, b: string): number {
  const pa = parseKubeVersion(a);
  const pb = parseKubeVersion(b);
  if (!pa || !pb) return pa ? -1 : pb ? 1 : compareStrings(a, b);
  if (pa.stage !== pb.stage) return pb.stage - pa.stage;
  if (pa.major !== pb.major) return pb.major - pa.major;
  return pb.minor - pa.minor;
}

function parseKubeVersion(v: string): { major: number; stage: number; minor: number } | undefined {
  const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
  if (!m) return undefined;
  return { major: Number(m[1]), stage: m[2] === 'alpha' ? 0 : m[2] === 'beta' ? 1 : 2, minor: Number(m[3] ?? 0) };
}

/**
 * Resource request handlers: turn a routed, authenticated, authorized request into calls on
 * the resource's ResourceStore, converting between the request's version and the storage
 * version, and write the response (object, list, Table, watch stream) in the negotiated format.
 * Generic over every ResourceDef: no per-kind code here.
 */
import { copySink, objectSink } from './local.ts';
import { renderJson } from './watchcache.ts';
import type { AuditRecorder } from './audit/index.ts';
import type { ServedResource } from './registry.ts';
import type { ResourceStore, WriteContext, DeleteParams } from './rest.ts';
import { clone } from './rest.ts';
import type { RequestInfo } from './requestinfo.ts';
import type { KubeObject, UserInfo } from '../api/types.ts';
import { badRequest, conflict, methodNotAllowed, notAcceptable, notFound, routeNotFound, statusError, invalid, type StatusError } from '../api/errors.ts';
import { boolParam, int64Param } from './params.ts';
import { canonical } from '../api/schema/canonical.ts';
import { negotiate, writeError, writeJsonString, writeObject, successStatus, type OutputFormat, type Response } from './respond.ts';
import { decodeObject, readBody, mediaType, parseJson, parseYamlBody, type Duplicates, type Request } from './body.ts';
import { buildTable, partialObjectMetadata, tableOf, type IncludeObject } from './tables.ts';
import { watchResponse } from './watch.ts';
import { applyJsonPatch, applyMergePatch } from './patch.ts';
import { applyStrategicMergePatch } from '../api/patch/strategic.ts';
import { typeForKind } from '../api/schema/index.ts';
import { applyConfig, managerFromUserAgent, validateManagerName } from '../api/apply/index.ts';
import { nowRfc3339 } from './rest.ts';
import { getPath } from '../api/validation.ts';
import { pruneUnknownFields } from '../api/fieldvalidation.ts';
import { labelSelectorFromObject, labelSelectorToString } from '../api/selectors.ts';
import type { LabelSelector } from '../api/selectors.ts';
import { copyJson, jsonCopy } from '../util/freeze.ts';

export interface HandlerContext {
  req: Request;
  res: Response;
  info: RequestInfo;
  query: URLSearchParams;
  user: UserInfo;
  served: ServedResource;
  storage: ResourceStore;
  /** Warnings for the response (Warning headers). */
  warnings?: string[];
  /** The storage of another resource (eviction reads PodDisruptionBudgets). */
  storageOf?: (group: string, plural: string) => ResourceStore | undefined;
  /** Review kinds' handler (authorization and authentication reviews). */
  review?: (served: ServedResource, obj: KubeObject, user: UserInfo, namespace: string) => Promise<KubeObject>;
  /** The request's audit recorder (objectRef and, at level Request, the body). */
  audit?: AuditRecorder;
  /** Admission plugins' audit annotations for this request (shared by its phases). */
  auditAnnotations?: Record<string, string>;
  /** serviceaccounts/{name}/token: issues the TokenRequest's token (after admission). */
  tokenRequest?: (req: { namespace: string; name: string; object: KubeObject; warnings: string[]; auditAnnotations: Record<string, string> }) => Promise<KubeObject>;
}

async function toStorage(served: ServedResource, obj: KubeObject): Promise<KubeObject> {
  const c = served.conversion;
  if (c) {
    c.default?.(obj);
    return c.remote ? c.remote.toStorageAsync(obj) : c.toStorage(obj);
  }
  return obj;
}

/** Stored objects about to be read through fromStorage: a conversion webhook converts them first (in one call). */
async function prepareWire(served: ServedResource, objs: readonly KubeObject[]): Promise<void> {
  await served.conversion?.remote?.prepare(objs);
}

function fromStorage(served: ServedResource, obj: KubeObject): KubeObject {
  return served.conversion ? served.conversion.fromStorage(obj) : obj;
}

/**
 * The object as written to the client: in the served version and in canonical JSON form (Go's
 * field order and omitempty, see api/schema/canonical.ts). Stored objects already are, so this
 * costs a walk, no copy; converted and freshly written ones are made so. Never mutate the result
 * (it may be the cached object).
 */
function toWire(served: ServedResource, obj: KubeObject): KubeObject {
  return canonical(fromStorage(served, obj));
}

function outputFormat(ctx: HandlerContext, list: boolean): OutputFormat {
  const f = negotiate(ctx.req.headers['accept'] as string | undefined, { list });
  if (!f) throw notAcceptable('only the following media types are accepted: application/json, application/yaml');
  return f;
}

function includeObject(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  if (v === 'None' || v === 'Object' || v === 'Metadata') return v;
  if (v) throw badRequest(`includeObject: Unsupported value: "${v}"`);
  return 'Metadata';
}

function writeCtx(ctx: HandlerContext): WriteContext {
  const dryRun = ctx.query.getAll('dryRun');
  for (const d of dryRun) if (d !== 'All') throw badRequest(`dryRun: Unsupported value: "${d}": supported values: "All"`);
  return { user: ctx.user, dryRun: dryRun.length > 0, version: ctx.served.version, manager: fieldManager(ctx), warnings: (ctx.warnings ??= []), auditAnnotations: (ctx.auditAnnotations ??= {}), audit: ctx.audit };
}

/** The request's field manager: `fieldManager`, else the User-Agent's product name (as upstream). */
function fieldManager(ctx: HandlerContext): string {
  const given = ctx.query.get('fieldManager');
  if (given !== null) {
    const bad = validateManagerName(given);
    if (bad) throw invalid({ group: 'meta.k8s.io', kind: 'UpdateOptions' }, '', [{ reason: 'FieldValueInvalid', field: 'fieldManager', message: bad }]);
    return given;
  }
  return managerFromUserAgent(ctx.req.headers['user-agent'] as string | undefined);
}

/** Writes one object, honouring Table/PartialObjectMetadata negotiation. */
async function respondObject(ctx: HandlerContext, code: number, stored: KubeObject): Promise<void> {
  await prepareWire(ctx.served, [stored]);
  const obj = toWire(ctx.served, stored);
  const f = outputFormat(ctx, false);
  if (f.kind === 'table') {
    const t = buildTable(tableOf(ctx.served.table), [obj], { resourceVersion: obj.metadata.resourceVersion }, {
      include: includeObject(ctx.query),
      version: f.version,
      now: Date.now(),
    });
    return writeObject(ctx.res, code, t);
  }
  if (f.kind === 'partial') return writeObject(ctx.res, code, partialObjectMetadata(obj, f.version), undefined, warningHeaders(ctx));
  // An in-process client gets its own copy instead of JSON to parse.
  const sink = f.kind === 'json' ? copySink(ctx.res) : null;
  if (sink) return sink.sendObject(code, jsonCopy(obj), warningHeaders(ctx));
  writeObject(ctx.res, code, obj, f, warningHeaders(ctx));
}

function warningHeaders(ctx: HandlerContext): Record<string, string> | undefined {
  if (!ctx.warnings?.length) return undefined;
  return { warning: ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') };
}

/** The request's fieldValidation mode: Strict, Warn (the default) or Ignore. */
function fieldValidationMode(ctx: HandlerContext): 'Strict' | 'Warn' | 'Ignore' {
  const mode = ctx.query.get('fieldValidation') ?? 'Warn';
  if (mode !== 'Strict' && mode !== 'Warn' && mode !== 'Ignore') {
    throw badRequest(`fieldValidation: Unsupported value: "${mode}": supported values: "Ignore", "Strict", "Warn"`);
  }
  return mode;
}

/** Where repeated keys of the body are collected, unless fieldValidation ignores them. */
function duplicatesSink(ctx: HandlerContext): Duplicates | undefined {
  return fieldValidationMode(ctx) === 'Ignore' ? undefined : { json: [], yaml: [] };
}

/**
 * fieldValidation (Strict, Warn — the default — or Ignore): unknown fields are dropped, and
 * they and repeated keys are reported as an error (Strict) or as warnings (Warn), as upstream
 * does for built-in kinds. A key both unknown and repeated is reported as unknown only (JSON).
 */
function validateFields(ctx: HandlerContext, obj: KubeObject, dups?: Duplicates): void {
  const mode = fieldValidationMode(ctx);
  const custom = ctx.served.def.custom;
  // A custom resource is pruned by its version's structural schema (upstream's pruning decoder).
  const unknown = custom ? custom.unknownFields(obj, ctx.served.version) : pruneUnknownFields(obj, { group: ctx.served.def.group, version: ctx.served.version, kind: ctx.served.def.kind });
  if (mode === 'Ignore') return;
  const msgs = dups?.yaml.slice() ?? [];
  for (const f of unknown) msgs.push(`unknown field "${f}"`);
  for (const d of dups?.json ?? []) {
    if (!unknown.some((u) => d === u || d.startsWith(`${u}.`) || d.startsWith(`${u}[`))) msgs.push(`duplicate field "${d}"`);
  }
  if (!msgs.length) return;
  if (mode === 'Strict') throw badRequest(`strict decoding error: ${msgs.join(', ')}`);
  (ctx.warnings ??= []).push(...msgs);
}

export async function handleResource(ctx: HandlerContext): Promise<void> {
  const { info, served } = ctx;
  const verb = info.verb;
  // A deprecated version of a custom resource (upstream's crdHandler warns on every request).
  if (served.conversion?.deprecationWarning) (ctx.warnings ??= []).push(served.conversion.deprecationWarning);
  const sub = info.subresource;
  if (sub) {
    if (sub === 'status' && served.def.subresources?.status) return handleStatus(ctx);
    if (sub === 'ephemeralcontainers' && served.def.subresources?.ephemeralContainers) return handleStatus(ctx, 'ephemeralcontainers');
    if (sub === 'approval' && served.def.subresources?.approval) return handleStatus(ctx, 'approval');
    if (sub === 'scale' && served.def.subresources?.scale) return handleScale(ctx);
    if (sub === 'binding' && served.def.subresources?.binding) return handleBinding(ctx);
    if (sub === 'eviction' && served.def.subresources?.eviction) return handleEviction(ctx);
    if (sub === 'token' && served.def.subresources?.token) return handleTokenRequest(ctx);
    if (sub === 'finalize' && served.def.group === '' && served.def.kind === 'Namespace' && info.verb === 'update') return handleFinalize(ctx);
    // No route serves it upstream: the router's 404, which does not read as a missing object.
    throw routeNotFound();
  }
  if (!served.verbs.includes(verb)) throw methodNotAllowed(verb, { group: served.def.group, resource: served.def.plural });
  switch (verb) {
    case 'get':
      return handleGet(ctx);
    case 'list':
      return handleList(ctx);
    case 'watch':
      return handleWatch(ctx);
    case 'create':
      return handleCreate(ctx);
    case 'update':
      return handleUpdate(ctx, '');
    case 'patch':
      return handlePatch(ctx, '');
    case 'delete':
      return handleDelete(ctx);
    case 'deletecollection':
      return handleDeleteCollection(ctx);
    default:
      throw methodNotAllowed(verb, { group: served.def.group, resource: served.def.plural });
  }
}

async function handleGet(ctx: HandlerContext): Promise<void> {
  const obj = await ctx.storage.get(ctx.info.namespace, ctx.info.name, ctx.query.get('resourceVersion') ?? undefined);
  await respondObject(ctx, 200, obj);
}

async function handleList(ctx: HandlerContext): Promise<void> {
  const q = ctx.query;
  const f = outputFormat(ctx, true);
  const result = await ctx.storage.list({
    namespace: ctx.info.namespace,
    labelSelector: q.get('labelSelector') ?? undefined,
    fieldSelector: q.get('fieldSelector') ?? undefined,
    limit: int64Param(q, 'limit'),
    continue: q.get('continue') ?? undefined,
    resourceVersion: q.get('resourceVersion') ?? undefined,
    resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
  });
  const meta: Record<string, unknown> = { resourceVersion: String(result.resourceVersion) };
  if (result.continue) meta['continue'] = result.continue;
  if (result.remainingItemCount !== undefined) meta['remainingItemCount'] = result.remainingItemCount;
  const served = ctx.served;
  if (served.conversion?.remote) await prepareWire(served, result.items.map((c) => c.obj));
  if (f.kind === 'table') {
    const objs = result.items.map((c) => toWire(served, c.obj));
    const t = buildTable(tableOf(served.table), objs, meta, { include: includeObject(q), version: f.version, now: Date.now() });
    return writeObject(ctx.res, 200, t);
  }
  const listKind = `${served.def.kind}List`;
  if (f.kind === 'partial') {
    return writeObject(ctx.res, 200, {
      kind: 'PartialObjectMetadataList',
      apiVersion: `meta.k8s.io/${f.version}`,
      metadata: meta,
      items: result.items.map((c) => partialObjectMetadata(c.obj, f.version)),
    });
  }
  if (f.kind === 'yaml') {
    return writeObject(ctx.res, 200, { apiVersion: served.apiVersion, kind: listKind, metadata: meta, items: result.items.map((c) => toWire(served, c.obj)) }, f);
  }
  // An in-process client that takes shared objects gets the cached (frozen) objects themselves.
  const sink = served.conversion ? null : objectSink(ctx.res);
  if (sink) return sink.sendObject(200, { kind: listKind, apiVersion: served.apiVersion, metadata: meta, items: result.items.map((c) => c.obj) });
  // JSON fast path: splice the cached serializations together.
  const head = `{"kind":${JSON.stringify(listKind)},"apiVersion":${JSON.stringify(served.apiVersion)},"metadata":${JSON.stringify(meta)},"items":[`;
  const parts: string[] = new Array(result.items.length);
  if (served.conversion) for (let i = 0; i < result.items.length; i++) parts[i] = JSON.stringify(toWire(served, result.items[i]!.obj));
  else for (let i = 0; i < result.items.length; i++) parts[i] = renderJson(result.items[i]!);
  writeJsonString(ctx.res, 200, head + parts.join(',') + ']}');
}

async function handleWatch(ctx: HandlerContext): Promise<void> {
  const f = outputFormat(ctx, true);
  const remote = ctx.served.conversion?.remote;
  await watchResponse(ctx, f, (o) => toWire(ctx.served, o), remote ? (objs) => remote.prepare(objs) : undefined);
}

/** Checks apiVersion/kind of a body against the served resource; fills them when absent. */
function checkTypeMeta(served: ServedResource, obj: KubeObject): void {
  if (obj.apiVersion === undefined && obj.kind === undefined) {
    obj.apiVersion = served.apiVersion;
    obj.kind = served.def.kind;
    return;
  }
  if (obj.kind !== served.def.kind || obj.apiVersion !== served.apiVersion) {
    // Other versions of the same kind are converted by the registry entry of that version.
    throw badRequest(
      `the API version in the data (${obj.apiVersion ?? ''}) does not match the expected API version (${served.apiVersion})`,
    );
  }
}

async function readObject(ctx: HandlerContext): Promise<KubeObject> {
  const body = await readBody(ctx.req);
  if (ctx.served.def.custom && mediaType(ctx.req.headers['content-type'] as string | undefined) === 'application/vnd.kubernetes.protobuf') {
    // Custom resources have no protobuf form (upstream's unstructured serializer).
    throw statusError('UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml');
  }
  const dups = duplicatesSink(ctx);
  const obj = await decodeObject(body, ctx.req.headers['content-type'] as string | undefined, { kind: ctx.served.def.kind, dups });
  if (obj.kind !== undefined && obj.kind !== ctx.served.def.kind) {
    throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${ctx.served.def.kind})`);
  }
  checkTypeMeta(ctx.served, obj);
  validateFields(ctx, obj, dups);
  // As decoding into Go's typed object does: zero values of omitempty fields are no values.
  // (A custom resource is unstructured: nothing to drop; its keys are sorted where it is stored.)
  const out = ctx.served.def.custom ? obj : canonical(obj);
  ctx.audit?.requestObject(out);
  return out;
}

async function handleCreate(ctx: HandlerContext): Promise<void> {
  const obj = await readObject(ctx);
  const ns = ctx.info.namespace;
  if (ctx.served.def.namespaced && !ns) throw notFound({ group: '', resource: 'namespaces' }, '');
  if (ctx.served.def.namespaced && obj.metadata.namespace && obj.metadata.namespace !== ns) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  if (ctx.served.def.review) {
    if (!ctx.review) throw methodNotAllowed('create', { group: ctx.served.def.group, resource: ctx.served.def.plural });
    const stored = await toStorage(ctx.served, obj);
    await ctx.storage.create(ns, stored, { ...writeCtx(ctx), dryRun: true });
    const out = await ctx.review(ctx.served, stored, ctx.user, ns);
    return respondObject(ctx, 201, out);
  }
  const created = await ctx.storage.create(ns, await toStorage(ctx.served, obj), writeCtx(ctx));
  await respondObject(ctx, 201, created);
}

async function handleUpdate(ctx: HandlerContext, sub: string): Promise<void> {
  const obj = await readObject(ctx);
  const stored = await toStorage(ctx.served, obj);
  // Each attempt gets its own copy of the body (an attempt may change it; see ResourceStore.update).
  const { obj: out, created } = await ctx.storage.update(ctx.info.namespace, ctx.info.name, () => copyJson(stored), writeCtx(ctx), { subresource: sub, mutatesCurrent: false });
  await respondObject(ctx, created ? 201 : 200, out);
}

const patchTypes = 'application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml';

/**
 * Applies a JSON, merge or strategic merge patch to an object of the given kind (its type in
 * the schema decides how strategic merge treats lists). Throws 415 for other patch types.
 */
function patchObject(type: string, current: unknown, patch: unknown, kind: { group: string; version: string; kind: string }): unknown {
  switch (type) {
    case 'application/json-patch+json':
      return applyJsonPatch(current, patch, typeForKind(kind.group, kind.version, kind.kind)?.name);
    case 'application/merge-patch+json':
      return applyMergePatch(current, patch, typeForKind(kind.group, kind.version, kind.kind)?.name);
    case 'application/strategic-merge-patch+json': {
      const t = typeForKind(kind.group, kind.version, kind.kind);
      if (!t) throw statusError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
      return applyStrategicMergePatch(current, patch, t.name);
    }
    default:
      throw unsupportedPatchType();
  }
}

function unsupportedPatchType(): StatusError {
  return statusError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${patchTypes}`);
}

async function handlePatch(ctx: HandlerContext, sub: string): Promise<void> {
  const type = mediaType(ctx.req.headers['content-type'] as string | undefined);
  if (type === 'application/apply-patch+yaml') return handleApply(ctx, sub);
  if (!patchTypes.split(', ').includes(type)) throw unsupportedPatchType();
  if (ctx.query.has('force')) {
    throw invalid({ group: 'meta.k8s.io', kind: 'PatchOptions' }, '', [{ reason: 'FieldValueForbidden', field: 'force', message: 'Forbidden: may not be specified for non-apply patch' }]);
  }
  const body = await readBody(ctx.req);
  const served = ctx.served;
  const dups = type === 'application/json-patch+json' ? undefined : duplicatesSink(ctx);
  const patch = parseJson(body, dups);
  const kind = { group: served.def.group, version: served.version, kind: served.def.kind };
  const apply = async (current: KubeObject): Promise<KubeObject> => {
    await prepareWire(served, [current]);
    const versioned = fromStorage(served, current);
    // The patch applies to the whole current object, resourceVersion included (kubectl tests it):
    // a result with another resourceVersion is a precondition that fails with 409 (as upstream).
    const next = patchObject(type, versioned, patch, kind);
    if (!next || typeof next !== 'object' || Array.isArray(next)) throw badRequest('the patch did not produce an object');
    const n = next as KubeObject;
    if (n.metadata === null || n.metadata === undefined) n.metadata = {};
    if (n.apiVersion !== served.apiVersion || n.kind !== served.def.kind) {
      throw badRequest(`the API version or kind of the patched object (${String(n.apiVersion)}, ${String(n.kind)}) may not be changed`);
    }
    if (ctx.warnings) ctx.warnings.length = 0; // a retried patch reports its warnings once (the array is shared with admission)
    validateFields(ctx, n, dups);
    // The patched object as upstream decodes it into the typed object (omitempty zeros gone).
    return toStorage(served, canonical(n));
  };
  // Every patch type applies to a copy of the current object (patchObject): it need not be copied first.
  const { obj: out } = await ctx.storage.update(ctx.info.namespace, ctx.info.name, (cur) => {
    if (!cur) throw notFound(ctx.storage.gr, ctx.info.name);
    return apply(cur);
  }, writeCtx(ctx), { subresource: sub, mutatesCurrent: false });
  await respondObject(ctx, 200, out);
}

/**
 * Server-side apply (PATCH application/apply-patch+yaml): the body is the manager's applied
 * configuration; it is merged into the live object (or creates it) with managedFields tracking,
 * conflicts (409) unless `force=true`.
 */
async function handleApply(ctx: HandlerContext, sub: string): Promise<void> {
  const served = ctx.served;
  const manager = ctx.query.get('fieldManager');
  if (!manager) {
    throw invalid({ group: 'meta.k8s.io', kind: 'PatchOptions' }, '', [{ reason: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' }]);
  }
  const force = boolParam(ctx.query, 'force') ?? false;
  const typeName = served.def.custom ? (served.conversion?.schemaType ?? served.def.custom.schemaType) : typeForKind(served.def.group, served.version, served.def.kind)?.name;
  if (!typeName) throw unsupportedPatchType();
  const body = await readBody(ctx.req);
  const dups = duplicatesSink(ctx);
  // JSON is YAML: most clients send JSON, which JSON.parse reads far faster than a YAML parser.
  const text = body.toString('utf8');
  const config = text.trimStart().startsWith('{') ? parseJson(text, dups) : await parseYamlBody(text, dups);
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw badRequest('the applied configuration must be an object');
  const cfg = config as KubeObject;
  if (cfg.metadata === undefined || cfg.metadata === null) cfg.metadata = {};
  if (cfg.apiVersion !== served.apiVersion || cfg.kind !== served.def.kind) {
    throw badRequest(`the API version in the data (${String(cfg.apiVersion ?? '')}) does not match the expected API version (${served.apiVersion})`);
  }
  if (cfg.metadata.name !== undefined && cfg.metadata.name !== ctx.info.name) {
    throw badRequest(`the name of the object (${cfg.metadata.name}) does not match the name on the URL (${ctx.info.name})`);
  }
  validateFields(ctx, cfg, dups);
  const wctx = { ...writeCtx(ctx), manager, applied: true };
  const opts = {
    manager,
    force,
    apiVersion: served.apiVersion,
    typeName,
    subresource: sub || undefined,
    statusSplit: Boolean(served.def.subresources?.status),
    now: nowRfc3339(),
    gk: { group: served.def.group, kind: served.def.kind },
  };
  const { obj, created } = await ctx.storage.update(
    ctx.info.namespace,
    ctx.info.name,
    async (cur) => {
      if (cur) await prepareWire(served, [cur]);
      const live = cur ? fromStorage(served, cur) : undefined;
      const merged = applyConfig(live, copyJson(cfg), opts);
      // The live resourceVersion is kept; one in the configuration is a precondition.
      if (cfg.metadata.resourceVersion) merged.metadata.resourceVersion = cfg.metadata.resourceVersion;
      merged.metadata.name = ctx.info.name;
      return toStorage(served, merged);
    },
    wctx,
    { subresource: sub, forceAllowCreate: !sub },
  );
  await respondObject(ctx, created ? 201 : 200, obj);
}

/**
 * DeleteOptions from the body and the query (the query wins), validated as upstream's
 * ValidateDeleteOptions: the deprecated `orphanDependents` (true: Orphan, false: Background) may
 * not be combined with `propagationPolicy`.
 */
async function deleteParams(ctx: HandlerContext): Promise<DeleteParams & { orphanDependents?: boolean }> {
  const q = ctx.query;
  const p: DeleteParams & { orphanDependents?: boolean } = {};
  let orphan: boolean | undefined;
  const body = await readBody(ctx.req);
  if (body.length) {
    const opts = parseJson(body) as Record<string, unknown>;
    if (opts && typeof opts === 'object') {
      if (typeof opts['gracePeriodSeconds'] === 'number') p.gracePeriodSeconds = opts['gracePeriodSeconds'];
      if (typeof opts['propagationPolicy'] === 'string') p.propagationPolicy = opts['propagationPolicy'];
      if (typeof opts['orphanDependents'] === 'boolean') orphan = opts['orphanDependents'];
      if (opts['preconditions'] && typeof opts['preconditions'] === 'object') p.preconditions = opts['preconditions'] as DeleteParams['preconditions'];
      if (Array.isArray(opts['dryRun'])) for (const d of opts['dryRun']) q.append('dryRun', String(d));
    }
  }
  const g = int64Param(q, 'gracePeriodSeconds');
  if (g !== undefined) p.gracePeriodSeconds = g;
  const pp = q.get('propagationPolicy');
  if (pp) p.propagationPolicy = pp;
  orphan = boolParam(q, 'orphanDependents') ?? orphan;
  const optionsKind = { group: 'meta.k8s.io', kind: 'DeleteOptions' };
  if (orphan !== undefined && p.propagationPolicy !== undefined) {
    throw invalid(optionsKind, '', [
      { reason: 'FieldValueInvalid', field: 'propagationPolicy', message: `Invalid value: ${JSON.stringify(p.propagationPolicy)}: orphanDependents and deletionPropagation cannot be both set` },
    ]);
  }
  if (p.propagationPolicy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(p.propagationPolicy)) {
    throw invalid(optionsKind, '', [
      { reason: 'FieldValueNotSupported', field: 'propagationPolicy', message: `Unsupported value: "${p.propagationPolicy}": supported values: "Foreground", "Background", "Orphan", "nil"` },
    ]);
  }
  if (orphan !== undefined) {
    p.propagationPolicy = orphan ? 'Orphan' : 'Background';
    p.orphanDependents = orphan;
  }
  if (p.gracePeriodSeconds !== undefined && p.gracePeriodSeconds < 0) p.gracePeriodSeconds = 1;
  return p;
}

async function handleDelete(ctx: HandlerContext): Promise<void> {
  const { orphanDependents, ...p } = await deleteParams(ctx);
  const { obj, deleted } = await ctx.storage.delete(ctx.info.namespace, ctx.info.name, p, writeCtx(ctx));
  // 200 also when the object stays (finalizers, grace period), as upstream: 202 only for a
  // pending delete that explicitly asked for cascading with orphanDependents=false.
  await respondObject(ctx, !deleted && orphanDependents === false ? 202 : 200, obj);
}

async function handleDeleteCollection(ctx: HandlerContext): Promise<void> {
  const { orphanDependents: _, ...p } = await deleteParams(ctx);
  const q = ctx.query;
  const wctx = writeCtx(ctx);
  const list = await ctx.storage.list({
    namespace: ctx.info.namespace,
    labelSelector: q.get('labelSelector') ?? undefined,
    fieldSelector: q.get('fieldSelector') ?? undefined,
  });
  const deleted: KubeObject[] = [];
  for (const c of list.items) {
    try {
      const r = await ctx.storage.delete(c.obj.metadata.namespace ?? '', c.obj.metadata.name ?? '', p, wctx);
      deleted.push(r.obj);
    } catch (err) {
      if ((err as { status?: { reason?: string } }).status?.reason === 'NotFound') continue;
      throw err;
    }
  }
  const served = ctx.served;
  await prepareWire(served, deleted);
  writeObject(ctx.res, 200, {
    kind: `${served.def.kind}List`,
    apiVersion: served.apiVersion,
    metadata: { resourceVersion: String(list.resourceVersion) },
    items: deleted.map((o) => toWire(served, o)),
  });
}

// ---- subresources ----------------------------------------------------------------------------

/**
 * POST pods/{name}/eviction (policy/v1 Eviction): deletes the pod unless that would break its
 * PodDisruptionBudget — then 429 TooManyRequests, which `kubectl drain` retries. Pods that are
 * not running (pending, finished, already deleting) are deleted without asking the budget. An
 * allowed eviction takes one disruption from the budget's status before deleting (so parallel
 * evictions cannot overdraw it) and records the pod in disruptedPods.
 */
async function handleEviction(ctx: HandlerContext): Promise<void> {
  const gr = { group: '', resource: 'pods/eviction' };
  if (ctx.info.verb !== 'create') throw methodNotAllowed(ctx.info.verb, gr);
  const eviction = await decodeObject(await readBody(ctx.req), ctx.req.headers['content-type'] as string | undefined, { kind: 'Eviction' });
  const name = ctx.info.name;
  const ns = ctx.info.namespace;
  if (eviction.metadata.name && eviction.metadata.name !== name) throw badRequest('name in URL does not match name in Eviction object');
  const opts = (eviction['deleteOptions'] ?? {}) as { gracePeriodSeconds?: number; preconditions?: DeleteParams['preconditions']; dryRun?: string[] };
  const wctx = writeCtx(ctx);
  if (opts.dryRun?.length) wctx.dryRun = true;
  const pod = await ctx.storage.get(ns, name);
  const evict = async () => {
    await ctx.storage.delete(ns, name, { gracePeriodSeconds: opts.gracePeriodSeconds, preconditions: opts.preconditions }, wctx);
    writeObject(ctx.res, 201, successStatus(undefined, 201));
  };
  const phase = String((pod['status'] as { phase?: string } | undefined)?.phase ?? '');
  if (pod.metadata.deletionTimestamp || phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending') return evict();
  const pdbStore = ctx.storageOf?.('policy', 'poddisruptionbudgets');
  const budgets = pdbStore
    ? (await pdbStore.list({ namespace: ns })).items.map((c) => c.obj).filter((b) => labelSelectorFromObject(((b['spec'] as { selector?: LabelSelector } | undefined)?.selector ?? null)).matches(pod.metadata.labels))
    : [];
  if (!budgets.length) return evict();
  if (budgets.length > 1) throw statusError('InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
  const pdb = budgets[0]!;
  const tooMany = (message: string, cause?: string) => {
    const err = statusError('TooManyRequests', message, cause ? { causes: [{ reason: 'DisruptionBudget', message: cause }] } : undefined);
    return err;
  };
  await pdbStore!.update(
    ns,
    pdb.metadata.name!,
    (cur) => {
      if (!cur) throw tooMany('Cannot evict pod as it would violate the pod\'s disruption budget.');
      const st = ((cur['status'] ??= {}) as Record<string, unknown>);
      if (Number(st['observedGeneration'] ?? 0) < Number(cur.metadata.generation ?? 1)) {
        throw tooMany(`Cannot evict pod as it would violate the pod's disruption budget. The disruption budget ${cur.metadata.name} is still being processed by the server.`);
      }
      const allowed = Number(st['disruptionsAllowed'] ?? 0);
      if (allowed <= 0) {
        throw tooMany('Cannot evict pod as it would violate the pod\'s disruption budget.', `The disruption budget ${cur.metadata.name} needs ${Number(st['desiredHealthy'] ?? 0)} healthy pods and has ${Number(st['currentHealthy'] ?? 0)} currently`);
      }
      st['disruptionsAllowed'] = allowed - 1;
      st['disruptedPods'] = { ...((st['disruptedPods'] as Record<string, string> | undefined) ?? {}), [name]: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
      // Not pinned: a concurrent status write makes the update re-read and decide again.
      delete cur.metadata.resourceVersion;
      return cur;
    },
    wctx,
    { subresource: 'status' },
  );
  return evict();
}

/**
 * POST serviceaccounts/{name}/token (authentication.k8s.io/v1 TokenRequest): admission as a
 * CREATE of the subresource (NodeRestriction checks a node's requests), then the token
 * (apiserver/serviceaccount/tokenrequest.ts); nothing is stored. 201 with the TokenRequest.
 */
async function handleTokenRequest(ctx: HandlerContext): Promise<void> {
  if (!ctx.tokenRequest) throw statusError('ServiceUnavailable', 'service account tokens are not served: the API server has no service account signing key');
  const namespace = ctx.info.namespace;
  const name = ctx.info.name;
  const tr = await decodeObject(await readBody(ctx.req), ctx.req.headers['content-type'] as string | undefined, { kind: 'TokenRequest' });
  if (tr.metadata.namespace && tr.metadata.namespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  tr.metadata.namespace = namespace;
  const wctx = writeCtx(ctx);
  const auditAnnotations: Record<string, string> = {};
  await ctx.storage.admitSubresourceCreate(namespace, name, 'token', tr, { ...wctx, auditAnnotations });
  const out = await ctx.tokenRequest({ namespace, name, object: tr, warnings: wctx.warnings ?? [], auditAnnotations });
  writeObject(ctx.res, 201, out, undefined, warningHeaders(ctx));
}

/**
 * POST pods/{name}/binding: assigns the pod to a node (spec.nodeName, PodScheduled True, the
 * Binding's annotations), once: a pod already assigned, or being deleted, is a Conflict.
 */
async function handleBinding(ctx: HandlerContext): Promise<void> {
  const gr = { group: '', resource: 'pods/binding' };
  if (ctx.info.verb !== 'create') throw methodNotAllowed(ctx.info.verb, gr);
  const binding = await decodeObject(await readBody(ctx.req), ctx.req.headers['content-type'] as string | undefined, { kind: 'Binding' });
  const name = ctx.info.name;
  if (binding.metadata.name && binding.metadata.name !== name) throw badRequest(`name in URL does not match name in Binding object`);
  const target = (binding['target'] ?? {}) as { kind?: string; name?: string };
  const causes = [];
  if (!target.name) causes.push({ reason: 'FieldValueRequired', field: 'target.name', message: 'Required value' });
  if (target.kind && target.kind !== 'Node') causes.push({ reason: 'FieldValueNotSupported', field: 'target.kind', message: `Unsupported value: "${target.kind}": supported values: "Node"` });
  if (causes.length) throw invalid({ group: '', kind: 'Binding' }, name, causes);
  await ctx.storage.update(
    ctx.info.namespace,
    name,
    (cur) => {
      if (!cur) throw notFound({ group: '', resource: 'pods' }, name);
      if (binding.metadata.uid && binding.metadata.uid !== cur.metadata.uid) throw conflict(gr, name, `Precondition failed: UID in precondition: ${binding.metadata.uid}, UID in object meta: ${cur.metadata.uid}`);
      if (cur.metadata.deletionTimestamp) throw conflict(gr, name, `pod ${name} is being deleted, cannot be assigned to a host`);
      const spec = (cur['spec'] ??= {}) as Record<string, unknown>;
      if (spec['nodeName']) throw conflict(gr, name, `pod ${name} is already assigned to node "${String(spec['nodeName'])}"`);
      spec['nodeName'] = target.name;
      if (binding.metadata.annotations) cur.metadata.annotations = { ...cur.metadata.annotations, ...binding.metadata.annotations };
      const status = (cur['status'] ??= {}) as { conditions?: Record<string, unknown>[] };
      const conditions = (status.conditions ?? []).filter((c) => c['type'] !== 'PodScheduled');
      conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: nowRfc3339() });
      status.conditions = conditions;
      delete cur.metadata.resourceVersion;
      return cur;
    },
    writeCtx(ctx),
    { subresource: 'binding' },
  );
  writeObject(ctx.res, 201, successStatus(undefined, 201));
}

/** A subresource that reads the whole object and writes one part of it (status, ephemeralcontainers). */
async function handleStatus(ctx: HandlerContext, sub: 'status' | 'ephemeralcontainers' | 'approval' = 'status'): Promise<void> {
  switch (ctx.info.verb) {
    case 'get':
      return handleGet(ctx);
    case 'update':
      return handleUpdate(ctx, sub);
    case 'patch':
      return handlePatch(ctx, sub);
    default:
      throw methodNotAllowed(ctx.info.verb, { group: ctx.served.def.group, resource: `${ctx.served.def.plural}/${sub}` });
  }
}

/** PUT namespaces/{name}/finalize: only spec.finalizers changes (the namespace controller's last step). */
async function handleFinalize(ctx: HandlerContext): Promise<void> {
  const body = await readObject(ctx);
  const finalizers = (body['spec'] as { finalizers?: unknown } | undefined)?.finalizers;
  const { obj } = await ctx.storage.update(
    ctx.info.namespace || ctx.info.name,
    ctx.info.name,
    (cur) => {
      if (!cur) throw notFound(ctx.storage.gr, ctx.info.name);
      const spec = ((cur['spec'] ??= {}) as Record<string, unknown>);
      if (Array.isArray(finalizers) && finalizers.length) spec['finalizers'] = finalizers;
      else delete spec['finalizers'];
      if (body.metadata.resourceVersion) cur.metadata.resourceVersion = body.metadata.resourceVersion;
      else delete cur.metadata.resourceVersion;
      return cur;
    },
    writeCtx(ctx),
    { subresource: 'finalize' },
  );
  await respondObject(ctx, 200, obj);
}

function scaleOf(ctx: HandlerContext, obj: KubeObject): KubeObject {
  const sd = ctx.served.def.subresources!.scale!;
  const versioned = fromStorage(ctx.served, obj);
  const specReplicas = Number(getPath(versioned, sd.specReplicasPath) ?? 0);
  const statusReplicas = Number(getPath(versioned, sd.statusReplicasPath) ?? 0);
  let selector = '';
  if (sd.labelSelectorPath) {
    const s = getPath(versioned, sd.labelSelectorPath);
    if (typeof s === 'string') selector = s;
    else if (s && typeof s === 'object') {
      // A LabelSelector, or (ReplicationControllers) a plain map of labels.
      const sel = 'matchLabels' in s || 'matchExpressions' in s ? (s as LabelSelector) : { matchLabels: s as Record<string, string> };
      selector = labelSelectorToString(sel);
    }
  }
  const m = obj.metadata;
  const scale: KubeObject = {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: specReplicas },
    status: { replicas: statusReplicas },
  };
  if (selector) (scale['status'] as Record<string, unknown>)['selector'] = selector;
  return scale;
}

function setPath(obj: KubeObject, path: string, value: unknown): void {
  const segs = path.split('.').filter(Boolean);
  let cur: Record<string, unknown> = obj;
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i]!;
    if (!cur[s] || typeof cur[s] !== 'object') cur[s] = {};
    cur = cur[s] as Record<string, unknown>;
  }
  cur[segs[segs.length - 1]!] = value;
}

async function handleScale(ctx: HandlerContext): Promise<void> {
  const verb = ctx.info.verb;
  const sd = ctx.served.def.subresources!.scale!;
  if (verb === 'get') {
    const obj = await ctx.storage.get(ctx.info.namespace, ctx.info.name, ctx.query.get('resourceVersion') ?? undefined);
    await prepareWire(ctx.served, [obj]);
    return writeObject(ctx.res, 200, canonical(scaleOf(ctx, obj)));
  }
  if (verb !== 'update' && verb !== 'patch') {
    throw methodNotAllowed(verb, { group: ctx.served.def.group, resource: `${ctx.served.def.plural}/scale` });
  }
  const type = mediaType(ctx.req.headers['content-type'] as string | undefined);
  const body = await readBody(ctx.req);
  let patchBody: unknown;
  let putScale: KubeObject | undefined;
  if (verb === 'update') putScale = await decodeObject(body, ctx.req.headers['content-type'] as string | undefined, { kind: 'Scale' });
  else patchBody = parseJson(body);
  const { obj } = await ctx.storage.update(
    ctx.info.namespace,
    ctx.info.name,
    async (cur) => {
      if (!cur) throw notFound(ctx.storage.gr, ctx.info.name);
      await prepareWire(ctx.served, [cur]);
      const scale = putScale ?? (() => {
        const s = scaleOf(ctx, cur);
        return patchObject(type, s, patchBody, { group: 'autoscaling', version: 'v1', kind: 'Scale' }) as KubeObject;
      })();
      const replicas = (scale['spec'] as { replicas?: unknown } | undefined)?.replicas;
      if (replicas !== undefined && (!Number.isInteger(replicas) || (replicas as number) < 0)) {
        throw invalid({ group: 'autoscaling', kind: 'Scale' }, ctx.info.name, [
          { reason: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` },
        ]);
      }
      const copy = clone(cur);
      await prepareWire(ctx.served, [copy]);
      const next = fromStorage(ctx.served, copy);
      setPath(next, sd.specReplicasPath, replicas ?? 0);
      const stored = await toStorage(ctx.served, next);
      const rv = scale.metadata?.resourceVersion;
      stored.metadata.resourceVersion = rv || undefined;
      if (!rv) delete stored.metadata.resourceVersion;
      return stored;
    },
    writeCtx(ctx),
    { subresource: 'scale' },
  );
  await prepareWire(ctx.served, [obj]);
  writeObject(ctx.res, 200, canonical(scaleOf(ctx, obj)));
}

export { successStatus };

/**
 * apiextensions.k8s.io/v1 CustomResourceDefinitions: the declaration, with upstream's strategy
 * (pkg/registry/customresourcedefinition/strategy.go: status reset on create with storedVersions
 * = [storage version], status kept on update with a new storage version appended, generation
 * bumped on spec changes) and ValidateCustomResourceDefinition / ...Update
 * (pkg/apis/apiextensions/validation/validation.go). Field paths are upstream's, which name the
 * internal type's fields in a few places (spec.conversion.webhookClientConfig,
 * spec.conversion.conversionReviewVersions), as upstream prints them for v1 objects too.
 */
import type { CustomResourceDefinition, CustomResourceDefinitionVersion, JSONSchemaProps } from '../index.ts';
import type { ResourceDef, ValidateContext } from '../resource.ts';
import type { KubeObject, StatusCause } from '../types.ts';
import { duplicate, forbidden, immutable, invalidValue, isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, notSupported, required, tooMany } from '../validation.ts';
import { celSchemaErrors } from '../../apiextensions/schema/cel.ts';
import { schemaHasDefaults, validateCRDSchema } from '../../apiextensions/schema/structural.ts';

/** Upstream's MaxSelectableFields. */
export const maxSelectableFields = 8;
const printerColumnTypes = ['boolean', 'date', 'integer', 'number', 'string'];
const columnFormats = ['byte', 'date', 'date-time', 'double', 'float', 'int32', 'int64', 'password'];

const crd = (o: KubeObject): CustomResourceDefinition => o as unknown as CustomResourceDefinition;

function storageVersion(c: CustomResourceDefinition): string | undefined {
  return (c.spec?.versions ?? []).find((v) => v.storage)?.name;
}

// ---- names ------------------------------------------------------------------------------------

function validateNames(names: Record<string, unknown>, p: string, out: StatusCause[]): void {
  const str = (k: string): string => (typeof names[k] === 'string' ? (names[k] as string) : '');
  const plural = str('plural');
  const singular = str('singular');
  const kind = str('kind');
  const listKind = str('listKind');
  if (plural) {
    const e = isDNS1035Label(plural);
    if (e.length) out.push(invalidValue(`${p}.plural`, plural, e.join(',')));
  }
  if (singular) {
    const e = isDNS1035Label(singular);
    if (e.length) out.push(invalidValue(`${p}.singular`, singular, e.join(',')));
  }
  if (kind) {
    const e = isDNS1035Label(kind.toLowerCase());
    if (e.length) out.push(invalidValue(`${p}.kind`, kind, `may have mixed case, but should otherwise match: ${e.join(',')}`));
  }
  if (listKind) {
    const e = isDNS1035Label(listKind.toLowerCase());
    if (e.length) out.push(invalidValue(`${p}.listKind`, listKind, `may have mixed case, but should otherwise match: ${e.join(',')}`));
  }
  ((names['shortNames'] ?? []) as string[]).forEach((s, i) => {
    const e = isDNS1035Label(s);
    if (e.length) out.push(invalidValue(`${p}.shortNames[${i}]`, s, e.join(',')));
  });
  if (kind && kind === listKind) out.push(invalidValue(`${p}.listKind`, listKind, 'kind and listKind may not be the same'));
  ((names['categories'] ?? []) as string[]).forEach((c, i) => {
    const e = isDNS1035Label(c);
    if (e.length) out.push(invalidValue(`${p}.categories[${i}]`, c, e.join(',')));
  });
}

// ---- JSON paths into the schema --------------------------------------------------------------

/** The schema at a simple '.a.b' path, following properties (or additionalProperties), or undefined. */
function schemaAt(s: JSONSchemaProps | undefined, path: string): JSONSchemaProps | undefined | null {
  let cur: JSONSchemaProps | undefined = s;
  for (const seg of path.split('.').slice(1)) {
    if (!cur) return undefined;
    if (cur['x-kubernetes-preserve-unknown-fields'] && !cur.properties?.[seg]) return null; // unknown but allowed
    const next: JSONSchemaProps | undefined = cur.properties && Object.hasOwn(cur.properties, seg) ? cur.properties[seg] : typeof cur.additionalProperties === 'object' ? cur.additionalProperties : undefined;
    cur = next;
  }
  return cur;
}

function validateSimpleJSONPath(s: string, p: string): StatusCause[] {
  if (!s) return [invalidValue(p, s, 'must not be empty')];
  if (s[0] !== '.') return [invalidValue(p, s, 'must be a simple json path starting with .')];
  if (s !== '.' && s.split('.').slice(1).some((seg) => !seg || /[[\]{}*]/.test(seg))) return [invalidValue(p, s, 'must be a json path in the dot notation')];
  return [];
}

/** ValidateCustomResourceDefinitionSubresources: scale paths are simple JSON paths under .spec / .status (the schema is not consulted, as upstream). */
function validateSubresources(sub: Record<string, unknown> | undefined, p: string, out: StatusCause[]): void {
  const scale = sub?.['scale'] as Record<string, unknown> | undefined;
  if (!scale) return;
  const spec = String(scale['specReplicasPath'] ?? '');
  if (!spec) out.push(required(`${p}.scale.specReplicasPath`));
  else {
    const e = validateSimpleJSONPath(spec, `${p}.scale.specReplicasPath`);
    out.push(...e);
    if (!e.length && !spec.startsWith('.spec.')) out.push(invalidValue(`${p}.scale.specReplicasPath`, spec, 'should be a json path under .spec'));
  }
  const status = String(scale['statusReplicasPath'] ?? '');
  if (!status) out.push(required(`${p}.scale.statusReplicasPath`));
  else {
    const e = validateSimpleJSONPath(status, `${p}.scale.statusReplicasPath`);
    out.push(...e);
    if (!e.length && !status.startsWith('.status.')) out.push(invalidValue(`${p}.scale.statusReplicasPath`, status, 'should be a json path under .status'));
  }
  const sel = scale['labelSelectorPath'];
  if (typeof sel === 'string' && sel) {
    const e = validateSimpleJSONPath(sel, `${p}.scale.labelSelectorPath`);
    out.push(...e);
    if (!e.length && !sel.startsWith('.spec.') && !sel.startsWith('.status.')) out.push(invalidValue(`${p}.scale.labelSelectorPath`, sel, 'should be a json path under either .spec or .status'));
  }
}

function validateColumns(cols: Record<string, unknown>[], p: string, out: StatusCause[]): void {
  cols.forEach((c, i) => {
    const cp = `${p}[${i}]`;
    if (!c['name']) out.push(required(`${cp}.name`));
    const type = c['type'];
    if (!type) out.push(required(`${cp}.type`, `must be one of ${printerColumnTypes.join(',')}`));
    else if (!printerColumnTypes.includes(String(type))) out.push(invalidValue(`${cp}.type`, type, `must be one of ${printerColumnTypes.join(',')}`));
    const format = c['format'];
    if (format && !columnFormats.includes(String(format))) out.push(invalidValue(`${cp}.format`, format, `must be one of ${columnFormats.join(',')}`));
    const jp = c['jsonPath'];
    if (!jp) out.push(required(`${cp}.JSONPath`));
    else if (!/^\{?\.?[^\s]*\}?$/.test(String(jp)) || /^\{[^}]*$/.test(String(jp))) out.push(invalidValue(`${cp}.JSONPath`, jp, 'must be a simple json path starting with .'));
  });
}

function validateSelectableFields(fields: Record<string, unknown>[], schema: JSONSchemaProps | undefined, p: string, out: StatusCause[]): void {
  const seen = new Set<string>();
  fields.forEach((f, i) => {
    const fp = `${p}[${i}].jsonPath`;
    const jp = typeof f['jsonPath'] === 'string' ? (f['jsonPath'] as string) : '';
    if (!jp) {
      out.push(required(fp));
      return;
    }
    const pe = validateSimpleJSONPath(jp, fp);
    if (pe.length) {
      out.push(invalidValue(fp, jp, `is an invalid path: ${pe[0]!.message}`));
      return;
    }
    if (jp === '.metadata' || jp.startsWith('.metadata.')) {
      out.push(invalidValue(fp, jp, 'must not point to fields in metadata'));
      return;
    }
    const s = schema ? schemaAt(schema, jp) : undefined;
    if (!s || !['string', 'boolean', 'integer'].includes(s.type ?? '')) out.push(invalidValue(fp, jp, 'must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.'));
    if (seen.has(jp)) out.push(duplicate(fp, jp));
    seen.add(jp);
  });
  if (seen.size > maxSelectableFields) out.push(tooMany(p, seen.size, maxSelectableFields));
}

// ---- conversion -------------------------------------------------------------------------------

function validateConversion(conv: Record<string, unknown> | undefined, requireRecognized: boolean, p: string, out: StatusCause[]): void {
  if (!conv) return;
  const strategy = conv['strategy'];
  if (!strategy) out.push(required(`${p}.strategy`));
  else if (strategy !== 'None' && strategy !== 'Webhook') out.push(notSupported(`${p}.strategy`, strategy, ['None', 'Webhook']));
  const webhook = conv['webhook'] as Record<string, unknown> | undefined;
  const cc = webhook?.['clientConfig'] as Record<string, unknown> | undefined;
  const reviewVersions = (webhook?.['conversionReviewVersions'] ?? []) as string[];
  if (strategy === 'Webhook') {
    if (!cc) out.push(required(`${p}.webhookClientConfig`, 'required when strategy is set to Webhook'));
    else {
      const hasUrl = cc['url'] !== undefined && cc['url'] !== null;
      const hasSvc = cc['service'] !== undefined && cc['service'] !== null;
      if (hasUrl === hasSvc) out.push(required(`${p}.webhookClientConfig`, 'exactly one of url or service is required'));
      else if (hasUrl) validateWebhookURL(String(cc['url']), `${p}.webhookClientConfig.url`, out);
      else validateWebhookService(cc['service'] as Record<string, unknown>, `${p}.webhookClientConfig.service`, out);
    }
    const rp = `${p}.conversionReviewVersions`;
    if (!reviewVersions.length) out.push(required(rp));
    else {
      const seen = new Set<string>();
      let accepted = false;
      reviewVersions.forEach((v, i) => {
        if (seen.has(v)) {
          out.push(invalidValue(`${rp}[${i}]`, v, 'duplicate version'));
          return;
        }
        seen.add(v);
        for (const m of isDNS1035Label(v)) out.push(invalidValue(`${rp}[${i}]`, v, m));
        if (v === 'v1' || v === 'v1beta1') accepted = true;
      });
      if (requireRecognized && !accepted) out.push(invalidValue(rp, reviewVersions, 'must include at least one of v1, v1beta1'));
    }
  } else {
    if (cc) out.push(forbidden(`${p}.webhookClientConfig`, 'should not be set when strategy is not set to Webhook'));
    if (reviewVersions.length) out.push(forbidden(`${p}.conversionReviewVersions`, 'should not be set when strategy is not set to Webhook'));
  }
}

/** apiserver's webhook.ValidateWebhookURL (forceHttps). */
function validateWebhookURL(raw: string, p: string, out: StatusCause[]): void {
  let u: URL;
  try {
    u = new URL(raw);
  } catch (e) {
    out.push(invalidValue(p, raw, `url must be a valid URL: ${(e as Error).message}`));
    return;
  }
  if (u.protocol !== 'https:') out.push(invalidValue(p, raw, "'https' is the only allowed URL scheme"));
  if (!u.hostname) out.push(invalidValue(p, raw, 'host must be specified'));
  if (u.username || u.password) out.push(invalidValue(p, raw, 'user information is not permitted in the URL'));
  if (u.hash) out.push(invalidValue(p, raw, 'fragments are not permitted in the URL'));
  if (u.search) out.push(invalidValue(p, raw, 'query parameters are not permitted in the URL'));
}

function validateWebhookService(svc: Record<string, unknown>, p: string, out: StatusCause[]): void {
  const name = String(svc['name'] ?? '');
  const ns = String(svc['namespace'] ?? '');
  if (!name) out.push(required(`${p}.name`, 'service name is required'));
  else for (const m of isDNS1035Label(name)) out.push(invalidValue(`${p}.name`, name, m));
  if (!ns) out.push(required(`${p}.namespace`, 'service namespace is required'));
  else for (const m of isDNS1123Label(ns)) out.push(invalidValue(`${p}.namespace`, ns, m));
  const port = svc['port'];
  if (port !== undefined && (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535))
    out.push(invalidValue(`${p}.port`, port, 'port is not valid: must be between 1 and 65535, inclusive'));
  const path = svc['path'];
  if (typeof path === 'string' && path) {
    if (!path.startsWith('/')) out.push(invalidValue(`${p}.path`, path, "must start with a '/'"));
    else if (path.includes('//')) out.push(invalidValue(`${p}.path`, path, "segment[1] may not be empty"));
  }
}

// ---- the whole object -------------------------------------------------------------------------

function validateVersion(v: CustomResourceDefinitionVersion, i: number, preserveUnknown: boolean, out: StatusCause[]): void {
  const p = `spec.versions[${i}]`;
  const schema = v.schema?.openAPIV3Schema;
  const statusEnabled = !!v.subresources?.status;
  if (v.deprecationWarning !== undefined && v.deprecationWarning !== null) {
    if (!v.deprecated) out.push(invalidValue(`${p}.deprecationWarning`, v.deprecationWarning, 'can only be set for deprecated versions'));
    else if (v.deprecationWarning.length > 256) out.push(invalidValue(`${p}.deprecationWarning`, v.deprecationWarning, 'must be <= 256 characters long'));
  }
  if (schema) {
    out.push(...validateCRDSchema(schema, `${p}.schema.openAPIV3Schema`, { statusEnabled, requireStructural: !preserveUnknown }));
    out.push(...celSchemaErrors(schema, `${p}.schema.openAPIV3Schema`));
  }
  validateSubresources(v.subresources as Record<string, unknown> | undefined, `${p}.subresources`, out);
  validateColumns((v.additionalPrinterColumns ?? []) as unknown as Record<string, unknown>[], `${p}.additionalPrinterColumns`, out);
  if (v.selectableFields?.length) {
    if (!schema) out.push(invalidValue(`${p}.selectableFields`, '', 'may only be set when `version.schema.openAPIV3Schema` is not included'));
    else validateSelectableFields(v.selectableFields as unknown as Record<string, unknown>[], schema, `${p}.selectableFields`, out);
  }
}

/** ValidateCustomResourceDefinitionStoredVersions. */
function validateStoredVersions(stored: string[], versions: CustomResourceDefinitionVersion[], out: StatusCause[]): void {
  const p = 'status.storedVersions';
  if (!stored.length) {
    out.push(invalidValue(p, stored, 'must have at least one stored version'));
    return;
  }
  const left = new Map(stored.map((v, i) => [v, i]));
  for (const v of versions) {
    if (v.storage && !left.has(v.name)) out.push(invalidValue(p, stored, `must have the storage version ${v.name}`));
    left.delete(v.name);
  }
  for (const [v, i] of left)
    out.push(
      invalidValue(
        `${p}[${i}]`,
        v,
        `missing from spec.versions; ${v} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in ${v} and removes ${v} from status.storedVersions`,
      ),
    );
}

/** ValidateCustomResourceDefinition (+Update when ctx.old is set), for the main resource and status. */
export function validateCRD(o: KubeObject, ctx: ValidateContext): StatusCause[] {
  const out: StatusCause[] = [];
  const c = crd(o);
  const spec = (c.spec ?? {}) as CustomResourceDefinition['spec'];
  const names = (spec.names ?? {}) as unknown as Record<string, unknown>;
  const group = spec.group ?? '';
  // metadata.name
  if (o.metadata.name !== `${String(names['plural'] ?? '')}.${group}`) out.push(invalidValue('metadata.name', o.metadata.name ?? '', 'must be spec.names.plural+"."+spec.group'));
  // spec
  if (!group) out.push(required('spec.group'));
  else {
    const e = isDNS1123Subdomain(group);
    if (e.length) out.push(invalidValue('spec.group', group, e.join(',')));
    else if (group.split('.').length < 2) out.push(invalidValue('spec.group', group, 'should be a domain with at least one dot'));
  }
  if (!spec.scope) out.push(required('spec.scope'));
  else if (spec.scope !== 'Cluster' && spec.scope !== 'Namespaced') out.push(notSupported('spec.scope', spec.scope, ['Cluster', 'Namespaced']));
  const versions = spec.versions ?? [];
  const preserveUnknown = spec.preserveUnknownFields === true;
  if (preserveUnknown) out.push(invalidValue('spec.preserveUnknownFields', true, 'cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead'));
  versions.forEach((v, i) => {
    if (!v.schema?.openAPIV3Schema) out.push(required(`spec.versions[${i}].schema.openAPIV3Schema`));
  });
  if (preserveUnknown && versions.some((v) => schemaHasDefaults(v.schema?.openAPIV3Schema)))
    out.push(invalidValue('spec.preserveUnknownFields', true, 'must be false in order to use defaults in the schema'));
  let storageCount = 0;
  const seen = new Set<string>();
  let unique = true;
  versions.forEach((v, i) => {
    if (v.storage) storageCount++;
    if (seen.has(v.name)) unique = false;
    seen.add(v.name);
    const e = isDNS1035Label(v.name ?? '');
    if (e.length) out.push(invalidValue(`spec.versions[${i}].name`, v.name ?? '', e.join(',')));
    validateVersion(v, i, preserveUnknown, out);
  });
  if (!unique) out.push(invalidValue('spec.versions', versions, 'must contain unique version names'));
  if (storageCount !== 1) out.push(invalidValue('spec.versions', versions, 'must have exactly one version marked as storage version'));
  if (!versions.length) out.push(required('spec.versions'));
  if (!names['plural']) out.push(required('spec.names.plural'));
  if (!names['singular']) out.push(required('spec.names.singular'));
  if (!names['kind']) out.push(required('spec.names.kind'));
  if (!names['listKind']) out.push(required('spec.names.listKind'));
  validateNames(names, 'spec.names', out);
  validateConversion(spec.conversion as unknown as Record<string, unknown> | undefined, true, 'spec.conversion', out);
  if (preserveUnknown && spec.conversion?.strategy === 'Webhook') out.push(invalidValue('spec.conversion.strategy', 'Webhook', 'must be None if spec.preserveUnknownFields is true'));
  if (ctx.old) {
    const oldSpec = (crd(ctx.old).spec ?? {}) as CustomResourceDefinition['spec'];
    out.push(...immutable('spec.group', spec.group, oldSpec.group));
    const established = (crd(ctx.old).status?.conditions ?? []).some((x) => x.type === 'Established' && x.status === 'True');
    if (established) {
      out.push(...immutable('spec.scope', spec.scope, oldSpec.scope));
      out.push(...immutable('spec.names.kind', names['kind'], (oldSpec.names as unknown as Record<string, unknown> | undefined)?.['kind']));
    }
  }
  // status
  const status = (c.status ?? {}) as NonNullable<CustomResourceDefinition['status']>;
  const accepted = status.acceptedNames as unknown as Record<string, unknown> | undefined;
  if (accepted && (accepted['plural'] || accepted['kind'])) validateNames(accepted, 'status.acceptedNames', out);
  validateStoredVersions(status.storedVersions ?? [], versions, out);
  return out;
}

export const resources: ResourceDef[] = [
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    kind: 'CustomResourceDefinition',
    allowUnconditionalUpdate: false,
    plural: 'customresourcedefinitions',
    singular: 'customresourcedefinition',
    namespaced: false,
    shortNames: ['crd', 'crds'],
    categories: ['api-extensions'],
    storagePrefix: 'apiextensions.k8s.io/customresourcedefinitions',
    subresources: { status: true },
    generation: true,
    default(o) {
      const spec = (o['spec'] ??= {}) as Record<string, unknown>;
      const conv = (spec['conversion'] ??= {}) as Record<string, unknown>;
      conv['strategy'] ??= 'None';
      const names = (spec['names'] ??= {}) as Record<string, unknown>;
      if (!names['singular'] && typeof names['kind'] === 'string') names['singular'] = names['kind'].toLowerCase();
      if (!names['listKind'] && typeof names['kind'] === 'string') names['listKind'] = `${names['kind']}List`;
      const webhook = conv['webhook'] as Record<string, unknown> | undefined;
      const svc = (webhook?.['clientConfig'] as Record<string, unknown> | undefined)?.['service'] as Record<string, unknown> | undefined;
      if (svc) svc['port'] ??= 443;
    },
    prepareForCreate(o) {
      const sv = storageVersion(crd(o));
      o['status'] = { acceptedNames: { kind: '', plural: '' }, conditions: [], storedVersions: sv ? [sv] : [] };
    },
    prepareForUpdate(o, old) {
      const status = structuredClone((old['status'] ?? {}) as Record<string, unknown>);
      const stored = (status['storedVersions'] ?? []) as string[];
      const sv = storageVersion(crd(o));
      if (sv && !stored.includes(sv)) status['storedVersions'] = [...stored, sv];
      o['status'] = status;
    },
    validate: validateCRD,
    table: {
      columns: [
        { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
        { name: 'Created At', type: 'date', description: 'Created At', priority: 0 },
      ],
      row: (o) => [o.metadata.name ?? '', o.metadata.creationTimestamp ?? ''],
    },
  },
];

/**
 * apiregistration.k8s.io/v1 APIServices, as kube-aggregator's registry/apiservice: cluster
 * scoped, named `<version>.<group>`, category api-extensions, a status subresource. Create
 * clears status (a Local APIService, one without spec.service, is Available at once with reason
 * Local); updates of the main resource keep status, status updates keep spec, labels,
 * annotations, finalizers and owner references. Updates need a resourceVersion. Validation and
 * the NAME/SERVICE/AVAILABLE/AGE table follow upstream's validation.go and etcd.go; the
 * availability controller and the proxy live in src/aggregator.
 */
import type { APIService } from '../generated/types.ts';
import type { ResourceDef, TableColumn } from '../resource.ts';
import type { KubeObject, StatusCause } from '../types.ts';
import { age } from '../printers.ts';
import { invalidValue, isDNS1035Label, isDNS1123Subdomain, isPathSegmentName, isValidPortNum, notSupported, required } from '../validation.ts';
import { ageCol, nameCol } from './_mk.ts';

/** Upstream's Local condition (apiregistration helpers' NewLocalAvailableAPIServiceCondition). */
export function localAvailableCondition(now: string): NonNullable<NonNullable<APIService['status']>['conditions']>[number] {
  return { type: 'Available', status: 'True', lastTransitionTime: now, reason: 'Local', message: 'Local APIServices are always available' };
}

/** The Available condition of an APIService, if any. */
export function availableCondition(svc: APIService): { status: string; reason?: string; message?: string } | undefined {
  return svc.status?.conditions?.find((c) => c.type === 'Available');
}

const nowRfc3339 = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export function validateAPIService(o: APIService): StatusCause[] {
  const out: StatusCause[] = [];
  const spec = o.spec ?? { groupPriorityMinimum: 0, versionPriority: 0 };
  const group = spec.group ?? '';
  const version = spec.version ?? '';
  const name = o.metadata.name ?? '';
  const requiredName = `${version}.${group}`;
  // The generic metadata check already reports path-segment failures (nameRule 'path').
  if (name && !isPathSegmentName(name).length && name !== requiredName) {
    out.push(invalidValue('metadata.name', name, `must be \`spec.version+"."+spec.group\`: ${JSON.stringify(requiredName)}`));
  }
  if (!group && version !== 'v1') out.push(required('spec.group', 'only v1 may have an empty group and it better be legacy kube'));
  if (group) for (const m of isDNS1123Subdomain(group)) out.push(invalidValue('spec.group', group, m));
  for (const m of isDNS1035Label(version)) out.push(invalidValue('spec.version', version, m));
  const gpm = spec.groupPriorityMinimum ?? 0;
  if (!(gpm > 0) || gpm > 20000) out.push(invalidValue('spec.groupPriorityMinimum', gpm, 'must be positive and less than 20000'));
  const vp = spec.versionPriority ?? 0;
  if (!(vp > 0) || vp > 1000) out.push(invalidValue('spec.versionPriority', vp, 'must be positive and less than 1000'));
  const caLen = spec.caBundle ? Buffer.from(spec.caBundle, 'base64').length : 0;
  if (!spec.service) {
    if (caLen) out.push(invalidValue('spec.caBundle', `${caLen} bytes`, 'local APIServices may not have a caBundle'));
    if (spec.insecureSkipTLSVerify) out.push(invalidValue('spec.insecureSkipTLSVerify', true, 'local APIServices may not have insecureSkipTLSVerify'));
    return out;
  }
  if (!spec.service.namespace) out.push(required('spec.service.namespace'));
  if (!spec.service.name) out.push(required('spec.service.name'));
  const port = spec.service.port;
  if (!isValidPortNum(port)) out.push(invalidValue('spec.service.port', port ?? 0, 'port is not valid: must be between 1 and 65535, inclusive'));
  if (spec.insecureSkipTLSVerify && caLen) out.push(invalidValue('spec.insecureSkipTLSVerify', true, 'may not be true if caBundle is present'));
  return out;
}

export function validateAPIServiceStatus(o: APIService): StatusCause[] {
  const out: StatusCause[] = [];
  (o.status?.conditions ?? []).forEach((c, i) => {
    if (c.status !== 'True' && c.status !== 'False' && c.status !== 'Unknown') out.push(notSupported(`status.conditions[${i}].status`, c.status, ['True', 'False', 'Unknown']));
  });
  return out;
}

const serviceCol: TableColumn = { name: 'Service', type: 'string', description: 'The reference to the service that hosts this API endpoint.', priority: 0 };
const availableCol: TableColumn = { name: 'Available', type: 'string', description: 'Whether this service is available.', priority: 0 };

const asSvc = (o: KubeObject) => o as unknown as APIService;

export const resources: ResourceDef[] = [
  {
    group: 'apiregistration.k8s.io',
    version: 'v1',
    kind: 'APIService',
    plural: 'apiservices',
    singular: 'apiservice',
    namespaced: false,
    categories: ['api-extensions'],
    nameRule: 'path',
    allowUnconditionalUpdate: false,
    subresources: { status: true },
    default(o) {
      const svc = asSvc(o).spec?.service;
      if (svc && svc.port === undefined) svc.port = 443;
    },
    prepareForCreate(o) {
      const svc = asSvc(o);
      svc.status = svc.spec?.service ? {} : { conditions: [localAvailableCondition(nowRfc3339())] };
    },
    prepareForUpdate(o, old) {
      const s = asSvc(old).status;
      if (s === undefined) delete o['status'];
      else o['status'] = structuredClone(s);
    },
    prepareForStatusUpdate(o, old) {
      o['spec'] = structuredClone(old['spec']);
      for (const k of ['labels', 'annotations', 'finalizers', 'ownerReferences'] as const) {
        const v = old.metadata[k];
        if (v === undefined) delete o.metadata[k];
        else (o.metadata as Record<string, unknown>)[k] = structuredClone(v);
      }
    },
    validate(o, ctx) {
      return ctx.subresource === 'status' ? validateAPIServiceStatus(asSvc(o)) : validateAPIService(asSvc(o));
    },
    table: {
      columns: [nameCol, serviceCol, availableCol, ageCol],
      row(o, now) {
        const svc = asSvc(o);
        const ref = svc.spec?.service;
        const service = ref ? `${ref.namespace ?? ''}/${ref.name ?? ''}` : 'Local';
        const c = availableCondition(svc);
        const available = !c ? 'Unknown' : c.status === 'True' || !c.reason ? c.status : `${c.status} (${c.reason})`;
        return [o.metadata.name ?? '', service, available, age(o.metadata.creationTimestamp, now)];
      },
    },
  },
];

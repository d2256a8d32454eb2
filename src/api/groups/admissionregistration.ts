/** admissionregistration.k8s.io/v1: webhook configurations and validating admission policies. */
import type { ResourceDef } from '../resource.ts';
import type { KubeObject, StatusCause } from '../types.ts';
import { notSupported, required } from '../validation.ts';
import { col, table } from './_mk.ts';

const ar = { group: 'admissionregistration.k8s.io', version: 'v1' } as const;

function defaultWebhooks(mutating: boolean) {
  return (o: KubeObject) => {
    for (const w of (o['webhooks'] ?? []) as Record<string, unknown>[]) {
      w['failurePolicy'] ??= 'Fail';
      w['matchPolicy'] ??= 'Equivalent';
      w['namespaceSelector'] ??= {};
      w['objectSelector'] ??= {};
      w['timeoutSeconds'] ??= 10;
      if (mutating) w['reinvocationPolicy'] ??= 'Never';
      for (const r of (w['rules'] ?? []) as Record<string, unknown>[]) r['scope'] ??= '*';
      const svc = (w['clientConfig'] as Record<string, unknown> | undefined)?.['service'] as Record<string, unknown> | undefined;
      if (svc) svc['port'] ??= 443;
    }
  };
}

function validateWebhooks(o: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  ((o['webhooks'] ?? []) as Record<string, unknown>[]).forEach((w, i) => {
    const f = `webhooks[${i}]`;
    if (!w['name']) out.push(required(`${f}.name`, ''));
    const se = w['sideEffects'];
    if (se === undefined) out.push(required(`${f}.sideEffects`, ''));
    else if (!['None', 'NoneOnDryRun'].includes(String(se))) out.push(notSupported(`${f}.sideEffects`, se, ['None', 'NoneOnDryRun']));
    if (!Array.isArray(w['admissionReviewVersions']) || !w['admissionReviewVersions'].length) out.push(required(`${f}.admissionReviewVersions`, 'must specify one of v1, v1beta1'));
    if (!['Fail', 'Ignore'].includes(String(w['failurePolicy']))) out.push(notSupported(`${f}.failurePolicy`, w['failurePolicy'], ['Fail', 'Ignore']));
    const cc = (w['clientConfig'] ?? {}) as Record<string, unknown>;
    if (!cc['url'] && !cc['service']) out.push(required(`${f}.clientConfig`, 'exactly one of url or service is required'));
  });
  return out;
}

const webhooksTable = table([col('Webhooks', 'integer')], (o) => [((o['webhooks'] ?? []) as unknown[]).length]);

export const resources: ResourceDef[] = [
  { ...ar, allowUnconditionalUpdate: false, kind: 'MutatingWebhookConfiguration', plural: 'mutatingwebhookconfigurations', singular: 'mutatingwebhookconfiguration', namespaced: false, default: defaultWebhooks(true), validate: validateWebhooks, table: webhooksTable },
  {
    ...ar,
    kind: 'ValidatingAdmissionPolicy',
    allowUnconditionalUpdate: false,
    plural: 'validatingadmissionpolicies',
    singular: 'validatingadmissionpolicy',
    namespaced: false,
    subresources: { status: true },
    generation: true,
    default(o) {
      const spec = (o['spec'] ??= {}) as Record<string, unknown>;
      spec['failurePolicy'] ??= 'Fail';
      const mc = (spec['matchConstraints'] ??= {}) as Record<string, unknown>;
      mc['matchPolicy'] ??= 'Equivalent';
      mc['namespaceSelector'] ??= {};
      mc['objectSelector'] ??= {};
    },
    prepareForUpdate(o, old) {
      o['status'] = old['status'];
    },
    table: table([col('Validations', 'integer'), col('ParamKind')], (o) => {
      const spec = (o['spec'] ?? {}) as Record<string, unknown>;
      const pk = spec['paramKind'] as Record<string, unknown> | undefined;
      return [((spec['validations'] ?? []) as unknown[]).length, pk ? `${String(pk['apiVersion'])}/${String(pk['kind'])}` : '<unset>'];
    }),
  },
  {
    ...ar,
    kind: 'ValidatingAdmissionPolicyBinding',
    allowUnconditionalUpdate: false,
    plural: 'validatingadmissionpolicybindings',
    singular: 'validatingadmissionpolicybinding',
    namespaced: false,
    table: table([col('PolicyName'), col('ParamRef')], (o) => {
      const spec = (o['spec'] ?? {}) as Record<string, unknown>;
      const pr = spec['paramRef'] as Record<string, unknown> | undefined;
      return [spec['policyName'] ?? '', pr ? `${String(pr['namespace'] ?? '')}/${String(pr['name'] ?? '')}` : '<unset>'];
    }),
  },
  { ...ar, allowUnconditionalUpdate: false, kind: 'ValidatingWebhookConfiguration', plural: 'validatingwebhookconfigurations', singular: 'validatingwebhookconfiguration', namespaced: false, default: defaultWebhooks(false), validate: validateWebhooks, table: webhooksTable },
];

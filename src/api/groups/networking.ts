/** networking.k8s.io/v1: NetworkPolicies, Ingresses, IngressClasses. */
import type { ResourceDef } from '../resource.ts';
import type { KubeObject } from '../types.ts';
import { notSupported } from '../validation.ts';
import { col, g, table } from './_mk.ts';
import { labelSelectorToString } from '../selectors.ts';

const net = { group: 'networking.k8s.io', version: 'v1' } as const;

function defaultNetworkPolicy(o: KubeObject): void {
  const spec = (o['spec'] ??= {}) as Record<string, unknown>;
  spec['podSelector'] ??= {};
  if (!spec['policyTypes']) spec['policyTypes'] = Array.isArray(spec['egress']) ? ['Ingress', 'Egress'] : ['Ingress'];
  for (const dir of ['ingress', 'egress']) {
    for (const rule of (spec[dir] ?? []) as Record<string, unknown>[]) {
      for (const p of (rule['ports'] ?? []) as Record<string, unknown>[]) p['protocol'] ??= 'TCP';
    }
  }
}

function ingressHosts(o: KubeObject): string {
  const hosts = ((g(o, 'spec', 'rules') ?? []) as Record<string, unknown>[]).map((r) => String(r['host'] ?? '*'));
  return hosts.length ? hosts.join(',') : '*';
}

function ingressAddress(o: KubeObject): string {
  const lbs = (g(o, 'status', 'loadBalancer', 'ingress') ?? []) as Record<string, unknown>[];
  return lbs.map((l) => String(l['ip'] ?? l['hostname'] ?? '')).join(',');
}

export const resources: ResourceDef[] = [
  {
    ...net,
    kind: 'IngressClass',
    plural: 'ingressclasses',
    singular: 'ingressclass',
    namespaced: false,
    table: table([col('Controller'), col('Parameters')], (o) => [g(o, 'spec', 'controller') ?? '', g(o, 'spec', 'parameters', 'name') ? `${String(g(o, 'spec', 'parameters', 'kind'))}/${String(g(o, 'spec', 'parameters', 'name'))}` : '<none>']),
  },
  {
    ...net,
    kind: 'Ingress',
    plural: 'ingresses',
    singular: 'ingress',
    namespaced: true,
    shortNames: ['ing'],
    storagePrefix: 'ingress',
    subresources: { status: true },
    generation: true,
    prepareForCreate(o) {
      o['status'] = {};
    },
    prepareForUpdate(o, old) {
      o['status'] = old['status'];
    },
    default(o) {
      for (const r of (g(o, 'spec', 'rules') ?? []) as Record<string, unknown>[]) {
        for (const p of (g(r, 'http', 'paths') ?? []) as Record<string, unknown>[]) p['pathType'] ??= 'ImplementationSpecific';
      }
    },
    validate(o) {
      const out = [];
      for (const [i, r] of ((g(o, 'spec', 'rules') ?? []) as Record<string, unknown>[]).entries()) {
        for (const [j, p] of ((g(r, 'http', 'paths') ?? []) as Record<string, unknown>[]).entries()) {
          if (!['Exact', 'Prefix', 'ImplementationSpecific'].includes(String(p['pathType']))) {
            out.push(notSupported(`spec.rules[${i}].http.paths[${j}].pathType`, p['pathType'] ?? '', ['Exact', 'ImplementationSpecific', 'Prefix']));
          }
        }
      }
      return out;
    },
    table: table([col('Class'), col('Hosts'), col('Address'), col('Ports')], (o) => [
      g(o, 'spec', 'ingressClassName') ?? '<none>',
      ingressHosts(o),
      ingressAddress(o),
      Array.isArray(g(o, 'spec', 'tls')) && (g(o, 'spec', 'tls') as unknown[]).length ? '80, 443' : '80',
    ]),
  },
  {
    ...net,
    kind: 'NetworkPolicy',
    plural: 'networkpolicies',
    singular: 'networkpolicy',
    namespaced: true,
    shortNames: ['netpol'],
    generation: true,
    default: defaultNetworkPolicy,
    validate(o) {
      const out = [];
      for (const [i, t] of ((g(o, 'spec', 'policyTypes') ?? []) as unknown[]).entries()) {
        if (t !== 'Ingress' && t !== 'Egress') out.push(notSupported(`spec.policyTypes[${i}]`, t, ['Egress', 'Ingress']));
      }
      return out;
    },
    table: table([col('Pod-Selector')], (o) => [labelSelectorToString((g(o, 'spec', 'podSelector') ?? {}) as object) || '<none>']),
  },
];

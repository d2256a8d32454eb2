/** certificates.k8s.io/v1 CertificateSigningRequests (approval and signing come later). */
import type { ResourceDef } from '../resource.ts';
import { required } from '../validation.ts';
import { age } from '../printers.ts';

export const resources: ResourceDef[] = [
  {
    group: 'certificates.k8s.io',
    version: 'v1',
    kind: 'CertificateSigningRequest',
    plural: 'certificatesigningrequests',
    singular: 'certificatesigningrequest',
    namespaced: false,
    shortNames: ['csr'],
    subresources: { status: true },
    prepareForCreate(o) {
      delete o['status'];
    },
    prepareForUpdate(o, old) {
      o['status'] = old['status'];
    },
    validate(o) {
      const spec = (o['spec'] ?? {}) as Record<string, unknown>;
      const out = [];
      if (!spec['request']) out.push(required('spec.request', ''));
      if (!spec['signerName']) out.push(required('spec.signerName', ''));
      return out;
    },
    table: {
      columns: [
        { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
        { name: 'Age', type: 'string', description: 'Age', priority: 0 },
        { name: 'SignerName', type: 'string', description: 'Signer', priority: 0 },
        { name: 'Requestor', type: 'string', description: 'Requestor', priority: 0 },
        { name: 'RequestedDuration', type: 'string', description: 'Duration', priority: 0 },
        { name: 'Condition', type: 'string', description: 'Condition', priority: 0 },
      ],
      row: (o, now) => {
        const spec = (o['spec'] ?? {}) as Record<string, unknown>;
        const conds = (((o['status'] ?? {}) as Record<string, unknown>)['conditions'] ?? []) as Record<string, unknown>[];
        const cond = conds.map((c) => String(c['type'])).join(',') || 'Pending';
        return [o.metadata.name ?? '', age(o.metadata.creationTimestamp, now), spec['signerName'] ?? '', spec['username'] ?? '', spec['expirationSeconds'] ? `${Math.floor(Number(spec['expirationSeconds']) / 60)}m` : '<none>', cond];
      },
    },
  },
];

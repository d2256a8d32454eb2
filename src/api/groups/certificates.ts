/**
 * certificates.k8s.io/v1 CertificateSigningRequests (approval and signing come later). A create
 * records the requester (spec.username, uid, groups, extra) from the authenticated user.
 */
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
    // Upstream's CSR strategy: the requester is whoever is authenticated, never what the body says.
    prepareForCreate(o, ctx) {
      const spec = ((o['spec'] ??= {}) as Record<string, unknown>);
      delete spec['username'];
      delete spec['uid'];
      delete spec['groups'];
      delete spec['extra'];
      const user = ctx?.user;
      if (user) {
        if (user.username) spec['username'] = user.username;
        if (user.uid) spec['uid'] = user.uid;
        if (user.groups.length) spec['groups'] = [...user.groups];
        if (user.extra && Object.keys(user.extra).length) spec['extra'] = structuredClone(user.extra);
      }
      delete o['status'];
    },
    // The spec (with the requester) is fixed at creation; status changes through subresources.
    prepareForUpdate(o, old) {
      o['spec'] = structuredClone(old['spec']);
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

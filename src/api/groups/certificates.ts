/**
 * certificates.k8s.io/v1 CertificateSigningRequests. A create records the requester
 * (spec.username, uid, groups, extra) from the authenticated user. The approval subresource
 * writes only the conditions (Approved/Denied), the status subresource everything in status but
 * those; the csrapproving and csrsigning controllers (src/controllers/csr*.ts) act on them.
 * Validation follows upstream's: one condition per type, Approved/Denied/Failed only "True" and
 * never removed, Approved and Denied exclusive, the certificate PEM and set once.
 */
import type { KubeObject, StatusCause } from '../types.ts';
import type { ResourceDef } from '../resource.ts';
import { duplicate, forbidden, invalidValue, notSupported, required } from '../validation.ts';
import { age } from '../printers.ts';

interface CsrCondition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

const approvalTypes = new Set(['Approved', 'Denied']);
const sticky = new Set(['Approved', 'Denied', 'Failed']);
/** Upstream's shortest certificate a request may ask for (spec.expirationSeconds). */
export const minExpirationSeconds = 600;
const knownUsages = [
  'signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment', 'cert sign', 'crl sign', 'encipher only', 'decipher only',
  'any', 'server auth', 'client auth', 'code signing', 'email protection', 's/mime', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing', 'microsoft sgc', 'netscape sgc',
];

function statusOf(o: KubeObject): { conditions?: CsrCondition[]; certificate?: string } {
  return ((o['status'] ??= {}) as { conditions?: CsrCondition[]; certificate?: string });
}

/** Upstream's condition timestamps: lastUpdateTime defaults to now, lastTransitionTime when the status changed. */
function stampConditions(o: KubeObject, old: KubeObject | undefined): void {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const before = new Map((old ? (statusOf(old).conditions ?? []) : []).map((c) => [c.type, c]));
  for (const c of statusOf(o).conditions ?? []) {
    c.lastUpdateTime ||= now;
    const prev = before.get(c.type);
    if (!c.lastTransitionTime) c.lastTransitionTime = prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
  }
}

function b64text(v: unknown): string | undefined {
  return typeof v === 'string' ? Buffer.from(v, 'base64').toString('latin1') : undefined;
}

function validateCsr(o: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const spec = (o['spec'] ?? {}) as Record<string, unknown>;
  const out: StatusCause[] = [];
  const request = b64text(spec['request']);
  if (!spec['request']) out.push(required('spec.request', ''));
  else if (!/-----BEGIN CERTIFICATE REQUEST-----[\s\S]+-----END CERTIFICATE REQUEST-----/.test(request ?? '')) out.push(invalidValue('spec.request', '<request>', 'PEM block type must be CERTIFICATE REQUEST'));
  if (!spec['signerName']) out.push(required('spec.signerName', ''));
  else if (!/^[a-z0-9.-]+\/[A-Za-z0-9._~%!$&'()*+,;=:@-]+$/.test(String(spec['signerName']))) out.push(invalidValue('spec.signerName', spec['signerName'], 'must be a fully qualified domain and path of the form \'example.com/signer-name\''));
  const exp = spec['expirationSeconds'];
  if (exp !== undefined && exp !== null && (typeof exp !== 'number' || exp < minExpirationSeconds)) out.push(invalidValue('spec.expirationSeconds', exp, `may not specify a duration less than ${minExpirationSeconds} seconds (10 minutes)`));
  const usages = (spec['usages'] ?? []) as unknown[];
  if (!usages.length) out.push(required('spec.usages', ''));
  const seenUsage = new Set<unknown>();
  usages.forEach((u, i) => {
    if (!knownUsages.includes(String(u))) out.push(notSupported(`spec.usages[${i}]`, u, knownUsages));
    if (seenUsage.has(u)) out.push(duplicate(`spec.usages[${i}]`, u));
    seenUsage.add(u);
  });
  const st = (o['status'] ?? {}) as { conditions?: CsrCondition[]; certificate?: string };
  const seen = new Set<string>();
  (st.conditions ?? []).forEach((c, i) => {
    const f = `status.conditions[${i}]`;
    if (!c.type) out.push(required(`${f}.type`, ''));
    if (c.type && sticky.has(c.type)) {
      if (c.status !== 'True') out.push(notSupported(`${f}.status`, c.status ?? '', ['True']));
      if (seen.has(c.type)) out.push(duplicate(`${f}.type`, c.type));
    } else if (c.status !== 'True' && c.status !== 'False' && c.status !== 'Unknown') out.push(notSupported(`${f}.status`, c.status ?? '', ['False', 'True', 'Unknown']));
    if (c.type) seen.add(c.type);
  });
  if (seen.has('Approved') && seen.has('Denied')) out.push(invalidValue('status.conditions', 'Denied', 'Approved and Denied conditions are mutually exclusive'));
  if (st.certificate) {
    const pem = b64text(st.certificate) ?? '';
    const blocks = [...pem.matchAll(/-----BEGIN ([A-Z ]+)-----/g)].map((m) => m[1]);
    if (!blocks.length || blocks.some((b) => b !== 'CERTIFICATE')) out.push(invalidValue('status.certificate', '<certificate data>', 'must contain one or more PEM blocks of type CERTIFICATE'));
  }
  if (old) {
    const oldSt = (old['status'] ?? {}) as { conditions?: CsrCondition[]; certificate?: string };
    for (const c of oldSt.conditions ?? []) {
      if (c.type && sticky.has(c.type) && !seen.has(c.type)) out.push(forbidden('status.conditions', `updates may not remove a condition of type "${c.type}"`));
    }
    if (oldSt.certificate && st.certificate !== oldSt.certificate) out.push(forbidden('status.certificate', 'updates may not modify existing certificate content'));
    if (st.certificate && !oldSt.certificate && !seen.has('Approved')) out.push(forbidden('status.certificate', 'certificate may only be set when the request is approved'));
  }
  return out;
}

export const resources: ResourceDef[] = [
  {
    group: 'certificates.k8s.io',
    version: 'v1',
    kind: 'CertificateSigningRequest',
    plural: 'certificatesigningrequests',
    singular: 'certificatesigningrequest',
    namespaced: false,
    shortNames: ['csr'],
    subresources: { status: true, approval: true },
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
    // /status: everything in status but the approval conditions, which stay as stored.
    prepareForStatusUpdate(o, old) {
      o['spec'] = structuredClone(old['spec']);
      const kept = (statusOf(old).conditions ?? []).filter((c) => approvalTypes.has(c.type ?? ''));
      const st = statusOf(o);
      const conds = [...kept, ...(st.conditions ?? []).filter((c) => !approvalTypes.has(c.type ?? ''))];
      if (conds.length) st.conditions = conds;
      else delete st.conditions;
      stampConditions(o, old);
    },
    // /approval: only the conditions; the certificate stays as stored.
    prepareForApprovalUpdate(o, old) {
      o['spec'] = structuredClone(old['spec']);
      const conds = statusOf(o).conditions;
      const st = structuredClone(statusOf(old));
      if (conds?.length) st.conditions = conds;
      else delete st.conditions;
      o['status'] = st;
      stampConditions(o, old);
    },
    validate(o, ctx) {
      return validateCsr(o, ctx.old);
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
        // Upstream's printer: the condition types, then Issued once a certificate is there.
        const types = conds.map((c) => String(c['type']));
        if (((o['status'] ?? {}) as Record<string, unknown>)['certificate']) types.push('Issued');
        const cond = types.join(',') || 'Pending';
        return [o.metadata.name ?? '', age(o.metadata.creationTimestamp, now), spec['signerName'] ?? '', spec['username'] ?? '', spec['expirationSeconds'] ? `${Math.floor(Number(spec['expirationSeconds']) / 60)}m` : '<none>', cond];
      },
    },
  },
];

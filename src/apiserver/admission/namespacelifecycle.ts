/**
 * NamespaceLifecycle, as upstream: objects may only be created in namespaces that exist and are
 * not terminating; the system namespaces (default, kube-system, kube-public) cannot be deleted.
 */
import { forbidden, notFound, statusError } from '../../api/errors.ts';
import type { KubeObject } from '../../api/types.ts';
import type { AdmissionPlugin } from './types.ts';

const immortal = new Set(['default', 'kube-system', 'kube-public']);

export function namespaceLifecycle(getNamespace: (name: string) => KubeObject | undefined): AdmissionPlugin {
  return {
    name: 'NamespaceLifecycle',
    validate(a) {
      if (a.def.group === '' && a.def.plural === 'namespaces') {
        if (a.operation === 'DELETE' && immortal.has(a.name)) {
          throw forbidden({ group: '', resource: 'namespaces' }, a.name, 'this namespace may not be deleted');
        }
        return;
      }
      if (!a.def.namespaced || a.operation !== 'CREATE' || !a.namespace) return;
      // Reviews and other unstored kinds are exempt upstream (they are not persisted).
      if (a.def.review) return;
      const ns = getNamespace(a.namespace);
      if (!ns) throw notFound({ group: '', resource: 'namespaces' }, a.namespace);
      if (ns.metadata.deletionTimestamp || (ns.status as { phase?: string } | undefined)?.phase === 'Terminating') {
        const qualified = a.def.group ? `${a.def.plural}.${a.def.group}` : a.def.plural;
        throw statusError(
          'Forbidden',
          `${qualified} "${a.name}" is forbidden: unable to create new content in namespace ${a.namespace} because it is being terminated`,
          {
            name: a.name,
            group: a.def.group,
            kind: a.def.plural,
            causes: [{ reason: 'NamespaceTerminating', message: `namespace ${a.namespace} is being terminated`, field: 'metadata.namespace' }],
          },
        );
      }
    },
  };
}

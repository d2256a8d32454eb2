/**
 * Schema of apiregistration.k8s.io/v1 (io.k8s.kube-aggregator.pkg.apis.apiregistration.v1, as
 * kube-aggregator's generated.proto): every type, in the notation of ./notation.ts.
 */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: ['APIService', 'APIServiceList'],
  types: {
    APIService: { metadata: '1 meta.v1.ObjectMeta', spec: '2 APIServiceSpec', status: '3 APIServiceStatus' },
    APIServiceList: { metadata: '1 meta.v1.ListMeta', items: '2 []APIService ! req' },
    ServiceReference: { namespace: '1 string', name: '2 string', port: '3 *int32' },
    APIServiceSpec: {
      service: '1 *ServiceReference',
      group: '2 string',
      version: '3 string',
      insecureSkipTLSVerify: '4 bool',
      caBundle: '5 bytes list=atomic',
      groupPriorityMinimum: '7 int32 ! req',
      versionPriority: '8 int32 ! req',
    },
    APIServiceCondition: {
      type: '1 string ! req',
      status: '2 string ! req',
      lastTransitionTime: '3 Time',
      reason: '4 string',
      message: '5 string',
    },
    APIServiceStatus: { conditions: '1 []APIServiceCondition merge=type list=map keys=type' },
  },
} satisfies SchemaFile;

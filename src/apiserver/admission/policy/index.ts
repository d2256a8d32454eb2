/**
 * ValidatingAdmissionPolicy: CEL admission policies, as upstream's
 * staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/validating. The public entry: the
 * plugin (put it among the validating plugins before the webhook plugin, as upstream orders
 * ValidatingAdmissionPolicy before ValidatingAdmissionWebhook) and the param lookup over the
 * API server's registry. The type checking of policies (typecheck.ts, for the status
 * controller) is not exported here: it loads @bufbuild/cel, and importers load it lazily from its
 * own file.
 */
export { validatingAdmissionPolicyPlugin, pluginName, loadEngine, type ValidatingAdmissionPolicyDeps } from './plugin.ts';
export { paramsFromRegistry, paramsLookup, type ParamRegistry, type ParamsLookup, type ParamQuery, type ParamSource } from './params.ts';
export { validationFailureAnnotation } from './report.ts';
export type { AuthorizeFn } from './lib/authz.ts';

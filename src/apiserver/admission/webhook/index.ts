/**
 * Dynamic admission webhooks, as upstream's MutatingAdmissionWebhook and
 * ValidatingAdmissionWebhook admission plugins (staging/src/k8s.io/apiserver/pkg/admission/
 * plugin/webhook): the public entry. Put the mutating plugin last among the mutating plugins and
 * the validating plugin last among the validating ones, as upstream orders them.
 */
export { mutatingWebhookPlugin, mutationAnnotationPrefix, mutationFailedOpenPrefix } from './mutating.ts';
export { validatingWebhookPlugin, validatingFailedOpenPrefix } from './validating.ts';
export type { WebhookDeps } from './dispatch.ts';
export { closeAgents as closeWebhookConnections, maxResponseBytes } from './client.ts';
export { compileConditions, type CompiledCondition } from './matchconditions.ts';

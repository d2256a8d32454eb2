/**
 * The ValidatingAdmissionWebhook plugin, as upstream's admission/plugin/webhook/validating
 * (dispatcher.go):
 * - every webhook's match (selectors, rules, matchConditions) is decided first, in order; an
 *   error there refuses the request before any call.
 * - the matching webhooks are then called all at once. An answer with `allowed: false` refuses
 *   the request with the webhook's Status; a failed call refuses it
 *   (`Internal error occurred: failed calling webhook …`) under failurePolicy Fail and is passed
 *   over under Ignore (audit annotation
 *   `failed-open.validating.webhook.admission.k8s.io/round_0_index_<i>`, i counting the
 *   matching webhooks). A patch in the answer is a failed call.
 * - of several refusals, the first webhook's (in call order) is returned. Upstream returns
 *   whichever arrives first; Bosun's choice is deterministic.
 */
import { internalError } from '../../../api/errors.ts';
import type { AdmissionAttributes, AdmissionPlugin } from '../types.ts';
import { addAuditAnnotations, callHook, newDispatch, shouldCallHook, versionedFor, type WebhookDeps } from './dispatch.ts';
import { CallError, toStatusError } from './errors.ts';
import { isExempt, type Invocation } from './rules.ts';
import { hookSource, type Hook } from './source.ts';

export const validatingFailedOpenPrefix = 'failed-open.validating.webhook.admission.k8s.io/';

/**
 * The ValidatingAdmissionWebhook admission plugin (validating phase only). Requests with no
 * configurations, and requests for admission configuration objects, return at once.
 */
export function validatingWebhookPlugin(deps: WebhookDeps): AdmissionPlugin {
  const hooks = hookSource(() => deps.configurations());
  return {
    name: 'ValidatingAdmissionWebhook',
    validate(attrs) {
      const list = hooks();
      if (list.length === 0 || isExempt(attrs.def)) return;
      return validateWith(list, attrs);
    },
  };

  async function validateWith(list: readonly Hook[], attrs: AdmissionAttributes): Promise<void> {
    const d = newDispatch(attrs, { deps, mutating: false });
    const relevant: { hook: Hook; inv: Invocation }[] = [];
    for (const hook of list) {
      const inv = await shouldCallHook(hook, d);
      if (inv) relevant.push({ hook, inv });
    }
    if (relevant.length === 0) return;
    const outcomes = await Promise.all(
      relevant.map(async ({ hook, inv }, i): Promise<unknown> => {
        try {
          const res = await callHook(d, { hook, invocation: inv, versioned: versionedFor(d, inv) });
          return res.allowed ? undefined : toStatusError(hook.name, res.result);
        } catch (err) {
          if (!(err instanceof CallError)) return err;
          if (hook.ignoreFailures) {
            deps.log?.(`Failed calling webhook, failing open ${hook.name}: ${err.message}`);
            addAuditAnnotations(attrs, { [`${validatingFailedOpenPrefix}round_0_index_${i}`]: hook.name });
            return undefined;
          }
          deps.log?.(`Failed calling webhook, failing closed ${hook.name}: ${err.message}`);
          return internalError(err);
        }
      }),
    );
    const refusal = outcomes.find((o) => o !== undefined);
    if (refusal !== undefined) throw refusal;
  }
}

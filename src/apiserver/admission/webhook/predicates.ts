/**
 * The namespaceSelector and objectSelector of a webhook, as upstream's
 * admission/plugin/webhook/predicates/namespace and predicates/object:
 * - namespaceSelector: a cluster-scoped request (other than for a Namespace) always matches. A
 *   Namespace's CREATE or UPDATE is judged by the labels of the object being written; any other
 *   namespaced request by the labels of its namespace, and an unknown namespace is NotFound
 *   (`namespaces "x" not found`, upstream's answer after its live lookup). An empty selector
 *   matches without a lookup.
 * - objectSelector: matches when the new object's labels, or the old object's, match. An empty
 *   selector matches everything; a request without objects (a DELETE with no old object) never
 *   matches a non-empty selector.
 * A selector that does not parse is an InternalError, reported only for requests the webhook's
 * rules select (as upstream: the error waits for the rule check).
 */
import { internalError, notFound, type StatusError } from '../../../api/errors.ts';
import type { LabelSelector } from '../../../api/index.ts';
import { labelSelectorFromObject, type LabelSelectorMatcher } from '../../../api/selectors.ts';
import type { KubeObject } from '../../../api/types.ts';
import type { RequestView } from './rules.ts';

/** A selector parsed once per configuration: a matcher, or why it could not be parsed. */
export type CompiledSelector = { matcher: LabelSelectorMatcher; error?: undefined } | { matcher?: undefined; error: string };

/** Parses a webhook's selector; an absent one is the v1 default `{}` (everything). */
export function compileSelector(sel: LabelSelector | null | undefined): CompiledSelector {
  try {
    return { matcher: labelSelectorFromObject(sel ?? {}) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** true / false, or the error a selected request fails with. */
export type Match = boolean | StatusError;

/** Upstream MatchNamespaceSelector. `namespaceLabels` answers undefined for a namespace that does not exist. */
export function matchNamespaceSelector(sel: CompiledSelector, view: RequestView, opts: { namespaceLabels(name: string): Record<string, string> | undefined }): Match {
  if (view.namespace === '' && !view.isNamespace) return true;
  if (!sel.matcher) return internalError(new Error(sel.error));
  if (sel.matcher.empty) return true;
  const a = view.attrs;
  let labels: Record<string, string> | undefined;
  if (view.isNamespace && view.subresource === '' && (a.operation === 'CREATE' || a.operation === 'UPDATE')) {
    labels = a.object?.metadata?.labels;
  } else {
    labels = opts.namespaceLabels(view.namespace);
    if (labels === undefined) return notFound({ group: '', resource: 'namespaces' }, view.namespace);
  }
  return sel.matcher.matches(labels ?? {});
}

const labelsMatch = (m: LabelSelectorMatcher, obj: KubeObject | undefined) => obj !== undefined && obj !== null && m.matches(obj.metadata?.labels ?? {});

/** Upstream MatchObjectSelector. */
export function matchObjectSelector(sel: CompiledSelector, view: RequestView): Match {
  if (!sel.matcher) return internalError(new Error(sel.error));
  if (sel.matcher.empty) return true;
  return labelsMatch(sel.matcher, view.attrs.object) || labelsMatch(sel.matcher, view.attrs.oldObject);
}

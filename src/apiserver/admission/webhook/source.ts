/**
 * The webhooks to consult, from the configuration objects in the cache, as upstream's
 * configuration managers and accessors (admission/plugin/webhook/accessors.go,
 * configuration/*_manager.go): configurations sorted by name, each one's webhooks in order,
 * every webhook with a uid `<configuration>/<webhook>/<index>` (what reinvocation remembers).
 *
 * Per-webhook work (selectors parsed, caBundle decoded, timeout settled, CEL compiled on first
 * use) is done once per configuration object and kept while the cache hands out the same
 * object; a request with no configurations costs one call and a length check.
 *
 * Fields a v1 object always has after defaulting are read with the v1 defaults when absent:
 * failurePolicy Fail, matchPolicy Equivalent, selectors `{}`, timeoutSeconds 10,
 * reinvocationPolicy Never. timeoutSeconds is held to upstream's valid range, 1 to 30.
 */
import type { MatchCondition, MutatingWebhook, RuleWithOperations, ServiceReference } from '../../../api/index.ts';
import type { KubeObject } from '../../../api/types.ts';
import { compileConditions, type CompiledCondition } from './matchconditions.ts';
import { compileSelector, type CompiledSelector } from './predicates.ts';

export const defaultTimeoutSeconds = 10;
export const minTimeoutSeconds = 1;
export const maxTimeoutSeconds = 30;

/** Where a webhook is called: a URL, or a Service resolved at call time; the CA to trust (PEM). */
export interface HookClient {
  url?: string;
  service?: ServiceReference;
  caPem?: string;
}

export interface Hook {
  /** `<configuration>/<webhook>/<index>`. */
  readonly uid: string;
  readonly configurationName: string;
  readonly name: string;
  readonly rules: readonly RuleWithOperations[];
  /** matchPolicy Equivalent. */
  readonly equivalent: boolean;
  /** failurePolicy Ignore. */
  readonly ignoreFailures: boolean;
  readonly sideEffects: string | null | undefined;
  readonly timeoutSeconds: number;
  readonly admissionReviewVersions: readonly string[];
  /** reinvocationPolicy IfNeeded (mutating webhooks). */
  readonly reinvokeIfNeeded: boolean;
  readonly namespaceSelector: CompiledSelector;
  readonly objectSelector: CompiledSelector;
  readonly matchConditions: readonly MatchCondition[];
  readonly client: HookClient;
  /** The compiled matchConditions; compiled on first use. */
  conditions(): Promise<readonly CompiledCondition[]>;
}

function decodeCaBundle(b: string | undefined): string | undefined {
  if (!b) return undefined;
  return Buffer.from(b, 'base64').toString('utf8');
}

function hooksOf(config: KubeObject): Hook[] {
  const configurationName = config.metadata.name ?? '';
  const webhooks = (Array.isArray(config['webhooks']) ? config['webhooks'] : []) as MutatingWebhook[];
  return webhooks.map((w, i) => {
    const matchConditions = w.matchConditions ?? [];
    let compiled: Promise<readonly CompiledCondition[]> | undefined;
    const t = typeof w.timeoutSeconds === 'number' ? w.timeoutSeconds : defaultTimeoutSeconds;
    return {
      uid: `${configurationName}/${w.name}/${i}`,
      configurationName,
      name: w.name,
      rules: w.rules ?? [],
      equivalent: (w.matchPolicy ?? 'Equivalent') === 'Equivalent',
      ignoreFailures: w.failurePolicy === 'Ignore',
      sideEffects: w.sideEffects,
      timeoutSeconds: Math.min(Math.max(Math.floor(t), minTimeoutSeconds), maxTimeoutSeconds),
      admissionReviewVersions: w.admissionReviewVersions ?? [],
      reinvokeIfNeeded: w.reinvocationPolicy === 'IfNeeded',
      namespaceSelector: compileSelector(w.namespaceSelector),
      objectSelector: compileSelector(w.objectSelector),
      matchConditions,
      client: { url: w.clientConfig?.url, service: w.clientConfig?.service, caPem: decodeCaBundle(w.clientConfig?.caBundle) },
      conditions: () => (compiled ??= compileConditions(matchConditions)),
    };
  });
}

const byName = (a: KubeObject, b: KubeObject) => {
  const x = a.metadata.name ?? '';
  const y = b.metadata.name ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * A function answering the current webhooks in call order. It reuses its last answer while
 * `configurations()` returns the same objects, and each configuration's compiled webhooks while
 * the object is the same (cache objects are replaced, never changed, on update).
 */
export function hookSource(configurations: () => readonly KubeObject[]): () => readonly Hook[] {
  const compiled = new WeakMap<KubeObject, Hook[]>();
  let lastConfigs: readonly KubeObject[] = [];
  let lastHooks: readonly Hook[] = [];
  const same = (a: readonly KubeObject[], b: readonly KubeObject[]) => a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
  return () => {
    const configs = configurations();
    if (configs.length === 0) return [];
    if (same(configs, lastConfigs)) return lastHooks;
    const hooks: Hook[] = [];
    for (const c of [...configs].sort(byName)) {
      let h = compiled.get(c);
      if (!h) compiled.set(c, (h = hooksOf(c)));
      hooks.push(...h);
    }
    lastConfigs = [...configs];
    lastHooks = hooks;
    return hooks;
  };
}

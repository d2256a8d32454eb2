/**
 * x-kubernetes-validations (CEL) for custom resources, as upstream's apiextensions-apiserver
 * pkg/apiserver/schema/cel (Validator) and the rule checks of CRD validation
 * (pkg/apis/apiextensions/validation): the public entry. The work is in cel-compile.ts (rules,
 * evaluation, CRD checks), cel-model.ts (schemas as CEL types), cel-values.ts (data as CEL
 * values, runtime meter, optionals) and cel-cost.ts (estimated cost).
 *
 * The CEL engine (@bufbuild/cel, about half a second to load) is required on first use by a
 * schema that has rules: a server whose CRDs have none never loads it.
 */
import { createRequire } from 'node:module';
import type { JSONSchemaProps } from '../../api/index.ts';
import type { StatusCause } from '../../api/types.ts';

type CompileModule = typeof import('./cel-compile.ts');
const requireModule = createRequire(import.meta.url);
let mod: CompileModule | undefined;
const impl = (): CompileModule => (mod ??= requireModule('./cel-compile.ts') as CompileModule);

/** A schema's compiled rules, ready to evaluate against objects. */
export interface CompiledRules {
  /** Whether any rule exists (a cheap check on the write path). */
  readonly empty: boolean;
  /** The compiled Validator tree (cel-compile.ts); absent when empty. */
  readonly validator?: unknown;
}

const none: CompiledRules = Object.freeze({ empty: true });

/** Whether any x-kubernetes-validations rule appears in the schema (allOf included). */
export function hasRules(s: JSONSchemaProps | undefined): boolean {
  if (!s || typeof s !== 'object') return false;
  if (s['x-kubernetes-validations']?.length) return true;
  const it = s.items;
  if (it && (Array.isArray(it) ? it.some(hasRules) : hasRules(it))) return true;
  if (typeof s.additionalProperties === 'object' && hasRules(s.additionalProperties)) return true;
  for (const p of Object.values(s.properties ?? {})) if (hasRules(p)) return true;
  return (s.allOf ?? []).some(hasRules);
}

/**
 * Compiles every x-kubernetes-validations rule of a structural schema (once per CRD version).
 * Never throws: rules that do not compile fail at evaluation with upstream's `rule compile
 * error: …` (CRD validation refuses them first, see `celSchemaErrors`).
 */
export function compileRules(schema: JSONSchemaProps): CompiledRules {
  if (!hasRules(schema)) return none;
  const validator = impl().compileValidator(schema);
  return validator ? { empty: false, validator } : none;
}

export interface ValidateRulesOptions {
  /** Receives ratcheted failures (`field: message`), which upstream returns as warnings on update. */
  warnings?: string[];
}

/**
 * Evaluates the rules on `obj` (the whole custom resource); `old` is the stored object on
 * update (transition rules with oldSelf run only where an old value exists, as upstream).
 * Field paths and messages as upstream; a failing rule at the root has upstream's nil path,
 * `<nil>`. Synchronous; never throws. Cost: nothing for an empty set of rules; otherwise each
 * node with rules converts its value once.
 */
export function validateRules(rules: CompiledRules, obj: unknown, old: unknown, opts?: ValidateRulesOptions): StatusCause[] {
  if (rules.empty || !rules.validator) return [];
  return impl().validateWith(rules.validator as never, obj, old, opts);
}

/**
 * CRD validation's part for CEL: compile errors, cost-limit errors and misuse of rules
 * (messageExpression, fieldPath, reason, optionalOldSelf), under `fldPath`
 * ('spec.versions[0].schema.openAPIV3Schema'), with upstream's messages.
 */
export function celSchemaErrors(schema: JSONSchemaProps, fldPath: string): StatusCause[] {
  if (!hasRules(schema)) return [];
  return impl().schemaErrors(schema, fldPath);
}

const blocking = new Set(['FieldValueNotSupported', 'FieldValueRequired', 'FieldValueTooLong', 'FieldValueTooMany', 'FieldValueTypeInvalid']);

/**
 * Upstream's hasBlockingErr (registry/customresource/strategy.go): when the schema validation
 * found errors of these kinds, rules are not evaluated and this cause is added instead.
 */
export function blockingCause(schemaErrors: readonly StatusCause[]): StatusCause | undefined {
  if (!schemaErrors.some((e) => e.reason !== undefined && blocking.has(e.reason))) return undefined;
  return { reason: 'FieldValueInvalid', field: '<nil>', message: 'Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation' };
}

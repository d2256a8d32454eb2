/**
 * The scale subresource's checks on a custom resource, as upstream's customResourceValidator
 * (ValidateScaleSpec, ValidateScaleStatus): the replicas paths hold int64s in int32 range, not
 * negative, and the selector path a string. Errors are reported under the declared path, leading
 * dot included, with unstructured's accessor messages (`.spec.replicas accessor error: three is of
 * the type string, expected int64`), as upstream prints them.
 */
import type { ScaleDef, ValidateContext } from '../api/resource.ts';
import type { KubeObject, StatusCause } from '../api/types.ts';

/**
 * Upstream's ValidateScaleSpec/ValidateScaleStatus: the replicas paths must hold int64s (in
 * int32 range, non-negative) and the selector path a string; errors are reported under the
 * declared path, leading dot included, as upstream does.
 */
export function validateScale(obj: KubeObject, scale: ScaleDef, ctx: ValidateContext): StatusCause[] {
  const out: StatusCause[] = [];
  const int = (path: string) => {
    const r = nested(obj, path, 'int64');
    if (r.error) out.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: 0: ${r.error}` });
    else if (typeof r.value === 'number' && r.value < 0) out.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: ${r.value}: should be a non-negative integer` });
    else if (typeof r.value === 'number' && r.value > 2147483647) out.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: ${r.value}: should be less than or equal to 2147483647` });
  };
  if (ctx.subresource !== 'status') int(scale.specReplicasPath);
  int(scale.statusReplicasPath);
  if (scale.labelSelectorPath) {
    const r = nested(obj, scale.labelSelectorPath, 'string');
    if (r.error) out.push({ reason: 'FieldValueInvalid', field: scale.labelSelectorPath, message: `Invalid value: "": ${r.error}` });
  }
  return out;
}

/** unstructured.NestedInt64/NestedString: the value at a dotted path, or the accessor error upstream prints. */
function nested(obj: unknown, path: string, want: 'int64' | 'string'): { value?: unknown; error?: string } {
  const fields = path.replace(/^\./, '').split('.');
  let cur: unknown = obj;
  for (let i = 0; i < fields.length; i++) {
    if (cur === null || cur === undefined) return {};
    if (typeof cur !== 'object' || Array.isArray(cur)) {
      return { error: `${'.' + fields.slice(0, i).join('.')} accessor error: ${goValue(cur)} is of the type ${goType(cur)}, expected map[string]interface{}` };
    }
    cur = (cur as Record<string, unknown>)[fields[i]!];
  }
  if (cur === undefined) return {};
  const ok = want === 'int64' ? typeof cur === 'number' && Number.isInteger(cur) : typeof cur === 'string';
  if (!ok) return { error: `.${fields.join('.')} accessor error: ${goValue(cur)} is of the type ${goType(cur)}, expected ${want}` };
  return { value: cur };
}

/** Go's %T of a decoded JSON value. */
function goType(v: unknown): string {
  if (v === null) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

/** Go's %v of a decoded JSON value. */
function goValue(v: unknown): string {
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.keys(v as object).sort().map((k) => `${k}:${goValue((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  return String(v);
}

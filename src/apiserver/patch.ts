/**
 * Patch application: JSON Patch (RFC 6902, via fast-json-patch) and JSON Merge Patch (RFC 7386).
 * Errors become 422/400 Status errors as upstream reports them. Inputs are not mutated.
 */
import jsonpatch from 'fast-json-patch';
import { badRequest, statusError } from '../api/errors.ts';

export function applyJsonPatch(doc: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  try {
    const res = jsonpatch.applyPatch(structuredClone(doc), patch as jsonpatch.Operation[], true, false);
    return res.newDocument;
  } catch (err) {
    const e = err as { name?: string; message?: string };
    if (e.name === 'TEST_OPERATION_FAILED') throw statusError('Invalid', 'the server rejected our request due to an error in our request');
    throw statusError('Invalid', `the server rejected our request due to an error in our request: ${(e.message ?? '').split('\n')[0]}`);
  }
}

export function applyMergePatch(doc: unknown, patch: unknown): unknown {
  return mergePatch(structuredClone(doc), patch);
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? (target as Record<string, unknown>) : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Patch application: JSON Patch (RFC 6902, via fast-json-patch) and JSON Merge Patch (RFC 7386).
 * Errors become 422/400 Status errors as upstream reports them. Inputs are not mutated, and the
 * result shares nothing with them: an update attempt changes what the patch gave it (defaults,
 * allocated ports), and a retried attempt applies the same patch again, as upstream applies the
 * patch's bytes afresh each time.
 * With `typeName`, a result that the typed decoder would refuse (a string where a map belongs)
 * is upstream's 422 `patch: Invalid value: "<patched JSON>": json: cannot unmarshal ...`.
 */
import jsonpatch from 'fast-json-patch';
import { badRequest, statusError } from '../api/errors.ts';
import { unmarshalError } from '../api/patch/restore.ts';
import { patchInvalid } from '../api/patch/strategic.ts';
import { copyJson } from '../util/freeze.ts';
import { isJsonObject } from '../util/json.ts';

/**
 * Throws upstream's patch error when `out` cannot decode as `typeName`; returns `out`. With the
 * merge patch that made it, only the fields the patch sets are checked.
 */
function checkDecodes(out: unknown, typeName: string | undefined, mergePatch?: unknown): unknown {
  const wrongType = typeName ? unmarshalError(out, typeName, mergePatch) : undefined;
  if (wrongType) throw patchInvalid(JSON.stringify(out), wrongType);
  return out;
}

export function applyJsonPatch(doc: unknown, patch: unknown, typeName?: string): unknown {
  if (!Array.isArray(patch)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let out: unknown;
  try {
    // The copies are the library's to change (values of add and replace go in as they are).
    out = jsonpatch.applyPatch(structuredClone(doc), structuredClone(patch) as jsonpatch.Operation[], true, true).newDocument;
  } catch (err) {
    if (err instanceof RangeError) throw tooDeeplyNested(err);
    const e = err as { name?: string; message?: string };
    if (e.name === 'TEST_OPERATION_FAILED') throw statusError('Invalid', 'the server rejected our request due to an error in our request');
    throw statusError('Invalid', `the server rejected our request due to an error in our request: ${(e.message ?? '').split('\n')[0]}`);
  }
  return checkDecodes(out, typeName);
}

export function applyMergePatch(doc: unknown, patch: unknown, typeName?: string): unknown {
  return checkDecodes(mergePatch(copyJson(doc), patch), typeName, patch);
}

/** RFC 7386 merge of `patch` into `target` (mutated), with an explicit stack: nesting costs no call depth. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  const root: Record<string, unknown> = isJsonObject(target) ? target : {};
  const work: [Record<string, unknown>, Record<string, unknown>][] = [[root, patch]];
  while (work.length) {
    const [out, p] = work.pop()!;
    for (const [k, v] of Object.entries(p)) {
      if (v === null) delete out[k];
      else if (isJsonObject(v)) {
        const cur = out[k];
        const next = isJsonObject(cur) ? cur : {};
        out[k] = next;
        work.push([next, v]);
      } else out[k] = typeof v === 'object' ? copyJson(v) : v; // an array: the result's own
    }
  }
  return root;
}

/** A stack overflow while applying a patch (nesting the recursive steps cannot follow) as a 400. */
export function tooDeeplyNested(err: unknown): unknown {
  if (err instanceof RangeError && /call stack/i.test(err.message)) return badRequest('the patch is nested too deeply to apply');
  return err;
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinResources } from '../groups/index.ts';
import { groupVersionInfo, typeForKind } from './index.ts';

// The registry is the project's list of served kinds; each one of a group-version the schema covers
// must have a type, and so must its list (review kinds have none).
test('every served built-in kind of a covered group-version has a schema type', () => {
  const missing: string[] = [];
  for (const def of builtinResources) {
    for (const version of [def.version, ...(def.otherVersions ?? []).map((v) => v.version)]) {
      if (!groupVersionInfo(def.group, version)) continue;
      const kinds = def.review ? [def.kind] : [def.kind, `${def.kind}List`];
      for (const kind of kinds) if (!typeForKind(def.group, version, kind)) missing.push(`${def.group}/${version} ${kind}`);
    }
  }
  assert.deepStrictEqual(missing, []);
});

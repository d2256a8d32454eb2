import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deletionFinalizers } from './rest.ts';

const cases: { name: string; current?: string[]; policy?: string; kindDefault?: 'orphan'; want: string[] | undefined }[] = [
  { name: 'a background delete of an object without finalizers changes nothing', policy: 'Background', want: undefined },
  { name: 'no policy on a kind without a default changes nothing', want: undefined },
  { name: 'orphan adds the orphan finalizer', policy: 'Orphan', current: ['a.io/x'], want: ['a.io/x', 'orphan'] },
  { name: 'foreground adds foregroundDeletion', policy: 'Foreground', want: ['foregroundDeletion'] },
  { name: 'foreground replaces orphan', policy: 'Foreground', current: ['orphan'], want: ['foregroundDeletion'] },
  { name: 'background removes both', policy: 'Background', current: ['orphan', 'x.io/y', 'foregroundDeletion'], want: ['x.io/y'] },
  { name: 'a kind that orphans by default gets the orphan finalizer without a policy', kindDefault: 'orphan', want: ['orphan'] },
  { name: 'an existing foreground finalizer wins over the kind default', kindDefault: 'orphan', current: ['foregroundDeletion'], want: undefined },
  { name: 'an explicit policy wins over the kind default', kindDefault: 'orphan', policy: 'Background', want: undefined },
  { name: 'an existing orphan finalizer is kept without a policy', current: ['orphan'], want: undefined },
];

for (const c of cases) {
  test(c.name, () => assert.deepEqual(deletionFinalizers(c.current, { propagationPolicy: c.policy }, c.kindDefault), c.want));
}

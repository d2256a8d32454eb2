/** The housekeeping period and its test-only variable (housekeeping.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { housekeepingFromEnv, housekeepingMs } from './housekeeping.ts';
import { isCode } from '../util/errors.ts';

const cases: { name: string; env: Record<string, string | undefined>; want: number }[] = [
  { name: 'unset means upstream’s 10 s', env: {}, want: housekeepingMs },
  { name: 'empty means upstream’s 10 s', env: { BOSUN_NODE_HOUSEKEEPING_SECONDS: '' }, want: 10_000 },
  { name: 'one second is the shortest', env: { BOSUN_NODE_HOUSEKEEPING_SECONDS: '1' }, want: 1_000 },
  { name: 'ten seconds is the longest', env: { BOSUN_NODE_HOUSEKEEPING_SECONDS: '10' }, want: 10_000 },
];
for (const c of cases) test(c.name, () => assert.equal(housekeepingFromEnv(c.env), c.want));

for (const v of ['0', '11', '1.5', '-1', '2s', ' 2']) {
  test(`${JSON.stringify(v)} is refused as invalid configuration`, () => {
    assert.throws(() => housekeepingFromEnv({ BOSUN_NODE_HOUSEKEEPING_SECONDS: v }), (e) => isCode(e, 'ERR_INVALID_CONFIG'));
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boolParam, flag, int64Param } from './params.ts';

const q = (s: string) => new URLSearchParams(s);

const bools: { name: string; query: string; want: boolean | undefined }[] = [
  { name: 'absent is undefined', query: '', want: undefined },
  { name: 'true is true', query: 'watch=true', want: true },
  { name: 'Python’s True is true', query: 'watch=True', want: true },
  { name: 'TRUE is true', query: 'watch=TRUE', want: true },
  { name: '1 is true', query: 'watch=1', want: true },
  { name: 'yes is true', query: 'watch=yes', want: true },
  { name: 'an empty value is true', query: 'watch=', want: true },
  { name: '0 is false', query: 'watch=0', want: false },
  { name: 'False is false', query: 'watch=False', want: false },
  { name: 'FALSE is false', query: 'watch=FALSE', want: false },
  { name: 'the first value decides', query: 'watch=false&watch=true', want: false },
];
for (const c of bools) test(`boolParam: ${c.name}`, () => assert.equal(boolParam(q(c.query), 'watch'), c.want));

test('flag: absent is false', () => assert.equal(flag(q(''), 'force'), false));

test('int64Param: the largest int64 is accepted', () => assert.equal(int64Param(q('limit=9223372036854775807'), 'limit'), 9223372036854775807));
test('int64Param: beyond int64 is a 400', () => assert.throws(() => int64Param(q('limit=9223372036854775808'), 'limit'), (e: { code?: number }) => e.code === 400));
test('int64Param: not a number is a 400', () => assert.throws(() => int64Param(q('limit=ten'), 'limit'), (e: { code?: number }) => e.code === 400));
test('int64Param: empty is undefined', () => assert.equal(int64Param(q('limit='), 'limit'), undefined));

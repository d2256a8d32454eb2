import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalQuantity, roundUpToMilli } from './quantity-canonical.ts';

const cases: { name: string; in: unknown; want: string | undefined }[] = [
  { name: 'a fraction becomes milli units', in: '0.5', want: '500m' },
  { name: 'a thousand milli units are one', in: '1000m', want: '1' },
  { name: 'thousands take the k suffix', in: '2000', want: '2k' },
  { name: 'a number that is not a multiple of a thousand stays', in: '1500', want: '1500' },
  { name: 'binary units climb to the largest exact one', in: '1024Mi', want: '1Gi' },
  { name: 'a binary fraction is printed in the next unit down', in: '1.5Gi', want: '1536Mi' },
  { name: 'binary values below 1024 print as decimal', in: '0.5Ki', want: '512' },
  { name: 'exponents stay exponents', in: '12e3', want: '12e3' },
  { name: 'a JSON number is a decimal quantity', in: 0.25, want: '250m' },
  { name: 'zero is 0', in: '0Mi', want: '0' },
  { name: 'garbage does not parse', in: 'lots', want: undefined },
];
for (const c of cases) test(c.name, () => assert.equal(canonicalQuantity(c.in), c.want));

test('values finer than a milli unit round up, away from zero', () => {
  assert.equal(roundUpToMilli('100u'), '1m');
  assert.equal(roundUpToMilli('1.0001'), '1001m');
  assert.equal(roundUpToMilli('-1.0001'), '-1001m');
  assert.equal(roundUpToMilli('250m'), '250m');
});

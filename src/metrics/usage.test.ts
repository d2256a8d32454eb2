/** Usage figures print as metrics-server prints its quantities, windows and timestamps. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesOf, cpuQuantity, memoryQuantity, metaTime, nanoCoresOf, windowText } from './usage.ts';

const cpu: { nanos: number; want: string }[] = [
  { nanos: 0, want: '0' },
  { nanos: 250_000_000, want: '250m' },
  { nanos: 1_500_000_000, want: '1500m' },
  { nanos: 2_000_000_000, want: '2' },
  { nanos: 123_456_789, want: '123456789n' },
  { nanos: 1_000, want: '1u' },
  { nanos: -5, want: '0' },
];
for (const c of cpu) test(`${c.nanos} nanocores print as ${c.want}`, () => assert.equal(cpuQuantity(c.nanos), c.want));

const memory: { bytes: number; want: string }[] = [
  { bytes: 0, want: '0' },
  { bytes: 512, want: '512' },
  { bytes: 1000, want: '1k' },
  { bytes: 2000, want: '2000' },
  { bytes: 64 * 1024 * 1024, want: '64Mi' },
  { bytes: 1536 * 1024, want: '1536Ki' },
  { bytes: 100_000_000, want: '100000000' },
  { bytes: 3 * 1024 ** 3, want: '3Gi' },
];
for (const c of memory) test(`${c.bytes} bytes print as ${c.want}`, () => assert.equal(memoryQuantity(c.bytes), c.want));

test('windows are Go durations and timestamps whole seconds', () => {
  assert.equal(windowText(15_000), '15s');
  assert.equal(windowText(15_012), '15.012s');
  assert.equal(windowText(60_500), '1m0.5s');
  assert.equal(metaTime(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), '2024-01-02T03:04:05Z');
});

test('annotation quantities parse to nanocores and bytes; negative or malformed ones do not', () => {
  assert.equal(nanoCoresOf('250m'), 250_000_000);
  assert.equal(nanoCoresOf('0.5'), 500_000_000);
  assert.equal(bytesOf('64Mi'), 67_108_864);
  assert.equal(bytesOf('1G'), 1e9);
  assert.equal(nanoCoresOf('-1'), undefined);
  assert.equal(bytesOf('lots'), undefined);
});

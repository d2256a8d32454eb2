import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalCel } from '../testing.ts';
import { translate } from './regex.ts';

const cases: { name: string; expr: string; want?: unknown; error?: string }[] = [
  { name: 'find returns the first match', expr: "'abc 123'.find('[0-9]+')", want: '123' },
  { name: 'find returns empty when nothing matches', expr: "'abc'.find('[0-9]+')", want: '' },
  { name: 'findAll returns every match', expr: "'123 abc 456'.findAll('[0-9]+')", want: ['123', '456'] },
  { name: 'findAll with a limit', expr: "'123 abc 456'.findAll('[0-9]+', 1)", want: ['123'] },
  { name: 'findAll with a limit of 0', expr: "'123 abc 456'.findAll('[0-9]+', 0)", want: [] },
  { name: 'named groups in RE2 syntax', expr: "'v1.2'.find('(?P<major>[0-9]+)\\\\.[0-9]+')", want: '1.2' },
  { name: 'a leading case-insensitive flag', expr: "'ABC'.find('(?i)b')", want: 'B' },
  { name: 'POSIX classes', expr: "'ab12'.find('[[:digit:]]+')", want: '12' },
  { name: 'a class holding brackets', expr: "'a]b[c'.findAll('[][]')", want: [']', '['] },
  { name: 'an escaped bracket ends no class', expr: "'x[y'.find('[a\\[]y')", want: '[y' },
  { name: 'matches still works', expr: "'abc'.matches('^a.c$')", want: true },
  { name: 'an invalid pattern is Go’s error', expr: "'abc'.find('(abc')", error: 'Illegal regex: error parsing regexp: missing closing ): `(abc`' },
];

for (const c of cases) {
  test(c.name, () => {
    const r = evalCel(c.expr);
    if (c.error !== undefined) return assert.equal(r.error, c.error);
    const v = r.value as Iterable<unknown>;
    assert.deepEqual(typeof r.value === 'object' ? [...v] : r.value, c.want, r.error);
  });
}

test('RE2 text anchors and literal quotes translate', () => {
  assert.deepEqual(translate('\\Aa.b\\z'), { source: '(?<![\\s\\S])a.b(?![\\s\\S])', flags: '' });
  assert.deepEqual(translate('\\Q.*\\E'), { source: '\\.\\*', flags: '' });
  assert.deepEqual(translate('\\pL'), { source: '\\p{L}', flags: '' });
});

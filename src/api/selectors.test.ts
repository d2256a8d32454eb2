import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { labelSelectorFromObject, labelSelectorToString, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { isStatusError } from './errors.ts';

const labels = { app: 'web', tier: 'front', version: '3' };

describe('label selectors', () => {
  const cases: { name: string; selector: string; matches: boolean }[] = [
    { name: 'an empty selector matches everything', selector: '', matches: true },
    { name: 'equality matches an equal value', selector: 'app=web', matches: true },
    { name: 'double equality is equality', selector: 'app==web', matches: true },
    { name: 'equality fails on another value', selector: 'app=db', matches: false },
    { name: 'inequality matches a missing key', selector: 'missing!=x', matches: true },
    { name: 'inequality fails on an equal value', selector: 'app!=web', matches: false },
    { name: 'in matches one of the values', selector: 'tier in (back, front)', matches: true },
    { name: 'notin fails when the value is listed', selector: 'tier notin (front)', matches: false },
    { name: 'notin matches a missing key', selector: 'missing notin (a)', matches: true },
    { name: 'exists matches a present key', selector: 'app', matches: true },
    { name: 'does-not-exist fails on a present key', selector: '!app', matches: false },
    { name: 'does-not-exist matches a missing key', selector: '!missing', matches: true },
    { name: 'greater-than compares integers', selector: 'version>2', matches: true },
    { name: 'less-than compares integers', selector: 'version<3', matches: false },
    { name: 'all requirements must hold', selector: 'app=web,tier=back', matches: false },
    { name: 'an empty value is a valid value', selector: 'app=', matches: false },
    { name: 'spaces around terms are allowed', selector: ' app = web , tier in (front) ', matches: true },
    { name: 'prefixed keys are accepted', selector: 'example.com/team!=x', matches: true },
  ];
  for (const c of cases) test(c.name, () => assert.equal(parseLabelSelector(c.selector).matches(labels), c.matches));

  const bad = ['app=b@d', 'app in web', 'in (a)', 'app=a b', '=x', 'app in (a', 'Bad_Key-!=x', 'version>x'];
  for (const s of bad) {
    test(`"${s}" is a BadRequest`, () => {
      assert.throws(() => parseLabelSelector(s), (err) => isStatusError(err) && err.status.code === 400);
    });
  }

  test('a metav1.LabelSelector: null matches nothing, {} matches everything', () => {
    assert.equal(labelSelectorFromObject(null).matches(labels), false);
    assert.equal(labelSelectorFromObject({}).matches(labels), true);
    assert.equal(labelSelectorFromObject({}).matches(undefined), true);
  });

  test('matchLabels and matchExpressions combine', () => {
    const sel = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }, { key: 'gone', operator: 'DoesNotExist' }] };
    assert.equal(labelSelectorFromObject(sel).matches(labels), true);
    assert.equal(labelSelectorFromObject(sel).matches({ app: 'web', tier: 'middle' }), false);
  });

  test('an unknown operator in a metav1.LabelSelector is a BadRequest', () => {
    assert.throws(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Near' }] }), (err) => isStatusError(err) && err.status.code === 400);
  });

  test('the canonical string is what kubectl shows', () => {
    assert.equal(labelSelectorToString({ matchLabels: { app: 'web' } }), 'app=web');
    assert.equal(labelSelectorToString({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['b', 'a'] }] }), 'tier notin (a,b)');
    assert.equal(labelSelectorToString(undefined), '');
  });
});

describe('field selectors', () => {
  const fields: Record<string, string> = { 'metadata.name': 'web-1', 'spec.nodeName': 'node-a', 'status.phase': 'Running' };
  const get = (f: string) => fields[f];
  const cases: { name: string; selector: string; matches: boolean }[] = [
    { name: 'an empty field selector matches everything', selector: '', matches: true },
    { name: 'field equality matches', selector: 'spec.nodeName=node-a', matches: true },
    { name: 'field double equality matches', selector: 'status.phase==Running', matches: true },
    { name: 'field inequality fails on an equal value', selector: 'status.phase!=Running', matches: false },
    { name: 'several field terms must all hold', selector: 'spec.nodeName=node-a,metadata.name=web-2', matches: false },
    { name: 'an empty value matches an empty field', selector: 'spec.nodeName=', matches: false },
  ];
  for (const c of cases) test(c.name, () => assert.equal(parseFieldSelector(c.selector).matches(get), c.matches));

  test('escaped commas and equals signs are part of the value', () => {
    const sel = parseFieldSelector('metadata.name=a\\,b\\=c');
    assert.equal(sel.requiresExactMatch('metadata.name'), 'a,b=c');
    assert.equal(sel.toString(), 'metadata.name=a\\,b\\=c');
  });

  test('the fields a selector names are listed', () => {
    assert.deepEqual(parseFieldSelector('a=1,b!=2').fields(), ['a', 'b']);
    assert.equal(parseFieldSelector('a!=1').requiresExactMatch('a'), undefined);
  });

  for (const s of ['nodeName', 'a=b\\x', '=x']) {
    test(`field selector "${s}" is a BadRequest`, () => {
      assert.throws(() => parseFieldSelector(s), (err) => isStatusError(err) && err.status.code === 400);
    });
  }
});

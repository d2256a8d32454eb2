import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFileIfExists, writeFileAtomic } from './fs.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-fs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const tmp = () => fs.mkdtempSync(path.join(root, 'd-'));

test('writeFileAtomic writes the data with the given mode and leaves no temporary file', async () => {
  const dir = tmp();
  const f = path.join(dir, 'a.key');
  await writeFileAtomic(f, 'secret', { mode: 0o600 });
  assert.equal(fs.readFileSync(f, 'utf8'), 'secret');
  assert.equal(fs.statSync(f).mode & 0o777, 0o600);
  assert.deepEqual(fs.readdirSync(dir), ['a.key']);
});

test('writeFileAtomic replaces an existing file and gives it the new mode', async () => {
  const dir = tmp();
  const f = path.join(dir, 'a');
  fs.writeFileSync(f, 'old', { mode: 0o644 });
  await writeFileAtomic(f, new TextEncoder().encode('new'), { mode: 0o600 });
  assert.equal(fs.readFileSync(f, 'utf8'), 'new');
  assert.equal(fs.statSync(f).mode & 0o777, 0o600);
});

test('writeFileAtomic fails without leaving a temporary file when the target cannot be replaced', async () => {
  const dir = tmp();
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'x'), '');
  await assert.rejects(writeFileAtomic(path.join(dir, 'sub'), 'data'));
  assert.deepEqual(fs.readdirSync(dir), ['sub']);
});

test('concurrent writeFileAtomic calls leave one complete version', async () => {
  const dir = tmp();
  const f = path.join(dir, 'a');
  const versions = Array.from({ length: 8 }, (_, i) => String(i).repeat(10_000));
  await Promise.all(versions.map((v) => writeFileAtomic(f, v)));
  assert.ok(versions.includes(fs.readFileSync(f, 'utf8')));
  assert.deepEqual(fs.readdirSync(dir), ['a']);
});

test('readFileIfExists answers undefined for a missing file and the text otherwise', async () => {
  const dir = tmp();
  assert.equal(await readFileIfExists(path.join(dir, 'nope')), undefined);
  fs.writeFileSync(path.join(dir, 'yes'), 'hi');
  assert.equal(await readFileIfExists(path.join(dir, 'yes')), 'hi');
  await assert.rejects(readFileIfExists(dir), { code: 'EISDIR' });
});

/**
 * The audit log writer: lumberjack's size rotation and backup names, maxbackup and maxage
 * cleanup, the queue bounds (drop and count), ordering, close, errors and standard output.
 * Sizes are tiny (fractions of a megabyte) and the clock is stepped by the test.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLogWriter, backupTimestamp, megabyte, validateAuditLogOptions } from './log.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-audit-log-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const newDir = () => {
  const d = path.join(root, `d${n++}`);
  fs.mkdirSync(d);
  return d;
};

const day = 24 * 60 * 60 * 1000;
const t0 = Date.parse('2026-12-05T10:00:00.000Z');

/** A clock the test moves: each read advances one second, so backup names differ. */
function steppingClock(start = t0, step = 1000): () => number {
  let t = start - step;
  return () => (t += step);
}

const bytes = (b: number) => b / megabyte;
const line = (i: number) => `{"n":${String(i).padStart(3, '0')},"pad":"${'x'.repeat(30)}"}`; // 45 chars + newline

function files(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

test('backup names use lumberjack’s UTC layout', () => {
  assert.equal(backupTimestamp(Date.parse('2026-12-05T10:00:00.000Z')), '2026-12-05T10-00-00.000');
  assert.equal(backupTimestamp(Date.parse('2026-01-02T03:04:05.678Z')), '2026-01-02T03-04-05.678');
});

test('negative rotation numbers are refused with upstream’s messages', () => {
  assert.deepEqual(validateAuditLogOptions({ maxAgeDays: -1, maxBackups: -2, maxSizeMb: -3 }), [
    "--audit-log-maxage -1 can't be a negative number",
    "--audit-log-maxbackup -2 can't be a negative number",
    "--audit-log-maxsize -3 can't be a negative number",
  ]);
  assert.deepEqual(validateAuditLogOptions({}), []);
});

describe('rotation by size', () => {
  test('a write that would pass maxsize moves the file aside first; every line is kept, in order', async () => {
    const dir = newDir();
    const file = path.join(dir, 'audit.log');
    const w = new AuditLogWriter({ path: file, maxSizeMb: bytes(200), clock: steppingClock() });
    for (let i = 0; i < 10; i++) assert.equal(w.write(line(i)), true);
    await w.close();
    const names = files(dir);
    // 46-byte lines, 4 per 200-byte file: 4 + 4 + 2.
    assert.deepEqual(names, ['audit-2026-12-05T10-00-00.000.log', 'audit-2026-12-05T10-00-01.000.log', 'audit.log']);
    const all = names.flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean));
    assert.deepEqual(all, Array.from({ length: 10 }, (_, i) => line(i)));
    for (const f of names) assert.ok(fs.statSync(path.join(dir, f)).size <= 200, `${f} within maxsize`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(w.stats, { written: 10, dropped: 0, failed: 0, queued: 0, rotations: 2 });
  });

  test('an existing file is appended to, and rotated first when the next line would not fit', async () => {
    const dir = newDir();
    const file = path.join(dir, 'audit.log');
    fs.writeFileSync(file, 'old\n');
    const w1 = new AuditLogWriter({ path: file, maxSizeMb: bytes(200), clock: steppingClock() });
    w1.write(line(1));
    await w1.close();
    assert.equal(fs.readFileSync(file, 'utf8'), `old\n${line(1)}\n`);
    fs.writeFileSync(file, 'y'.repeat(190));
    const w2 = new AuditLogWriter({ path: file, maxSizeMb: bytes(200), clock: steppingClock() });
    w2.write(line(2));
    await w2.close();
    assert.deepEqual(files(dir), ['audit-2026-12-05T10-00-00.000.log', 'audit.log']);
    assert.equal(fs.readFileSync(file, 'utf8'), `${line(2)}\n`);
  });

  test('a line longer than maxsize is not written (lumberjack’s error); the next ones are', async () => {
    const dir = newDir();
    const errors: string[] = [];
    const w = new AuditLogWriter({ path: path.join(dir, 'audit.log'), maxSizeMb: bytes(100), clock: steppingClock(), onError: (e) => errors.push(e.message) });
    w.write('z'.repeat(150));
    w.write(line(1));
    await w.close();
    assert.deepEqual(errors, ['write length 151 exceeds maximum file size 100']);
    assert.equal(fs.readFileSync(path.join(dir, 'audit.log'), 'utf8'), `${line(1)}\n`);
    assert.equal(w.stats.failed, 1);
    assert.equal(w.stats.written, 1);
  });

  test('two rotations in one millisecond do not overwrite a backup', async () => {
    const dir = newDir();
    const w = new AuditLogWriter({ path: path.join(dir, 'audit.log'), maxSizeMb: bytes(50), clock: () => t0 });
    for (let i = 0; i < 3; i++) w.write(line(i));
    await w.close();
    assert.deepEqual(files(dir), ['audit-2026-12-05T10-00-00.000.log', 'audit-2026-12-05T10-00-00.001.log', 'audit.log']);
  });
});

describe('cleanup of backups', () => {
  test('maxbackup keeps the newest backups only', async () => {
    const dir = newDir();
    const w = new AuditLogWriter({ path: path.join(dir, 'audit.log'), maxSizeMb: bytes(50), maxBackups: 2, clock: steppingClock() });
    for (let i = 0; i < 6; i++) w.write(line(i));
    await w.close();
    assert.deepEqual(files(dir), ['audit-2026-12-05T10-00-03.000.log', 'audit-2026-12-05T10-00-04.000.log', 'audit.log']);
    assert.equal(fs.readFileSync(path.join(dir, 'audit.log'), 'utf8'), `${line(5)}\n`);
  });

  test('maxage removes backups older than that many days by the time in their name; other files stay', async () => {
    const dir = newDir();
    fs.writeFileSync(path.join(dir, `audit-${backupTimestamp(t0 - 3 * day)}.log`), 'old\n');
    fs.writeFileSync(path.join(dir, `audit-${backupTimestamp(t0 - day / 2)}.log`), 'recent\n');
    fs.writeFileSync(path.join(dir, 'audit-notatime.log'), 'other\n');
    fs.writeFileSync(path.join(dir, 'other.txt'), 'other\n');
    const w = new AuditLogWriter({ path: path.join(dir, 'audit.log'), maxAgeDays: 1, clock: () => t0 });
    w.write(line(1));
    await w.close();
    assert.deepEqual(files(dir), [`audit-${backupTimestamp(t0 - day / 2)}.log`, 'audit-notatime.log', 'audit.log', 'other.txt']);
  });
});

describe('the queue is bounded', () => {
  test('beyond bufferSize lines, writes are dropped and counted; the rest are written', async () => {
    const dir = newDir();
    const w = new AuditLogWriter({ path: path.join(dir, 'audit.log'), bufferSize: 3 });
    const accepted = [0, 1, 2, 3, 4].map((i) => w.write(line(i)));
    assert.deepEqual(accepted, [true, true, true, false, false]);
    assert.equal(w.stats.queued, 3);
    await w.flush();
    assert.equal(w.write(line(5)), true, 'room again once written');
    await w.close();
    assert.deepEqual(fs.readFileSync(path.join(dir, 'audit.log'), 'utf8').split('\n').filter(Boolean), [line(0), line(1), line(2), line(5)]);
    assert.equal(w.stats.dropped, 2);
    assert.equal(w.stats.written, 4);
  });

  test('beyond maxBufferedChars, writes are dropped too', () => {
    const w = new AuditLogWriter({ path: path.join(newDir(), 'audit.log'), maxBufferedChars: 100 });
    assert.deepEqual([0, 1, 2].map((i) => w.write(line(i))), [true, true, false]); // 46 + 46 ≤ 100 < 138
    return w.close();
  });

  test('close writes out the queue; later writes are dropped', async () => {
    const dir = newDir();
    const w = new AuditLogWriter({ path: path.join(dir, 'audit.log') });
    w.write(line(1));
    await w.close();
    assert.equal(w.write(line(2)), false);
    assert.equal(fs.readFileSync(path.join(dir, 'audit.log'), 'utf8'), `${line(1)}\n`);
    await w.close();
  });
});

test('write errors are reported and counted, never thrown', async () => {
  const dir = newDir();
  fs.writeFileSync(path.join(dir, 'blocker'), '');
  const errors: Error[] = [];
  const w = new AuditLogWriter({ path: path.join(dir, 'blocker', 'audit.log'), onError: (e) => errors.push(e) });
  w.write(line(1));
  w.write(line(2));
  await w.close();
  assert.equal(errors.length, 1);
  assert.equal(w.stats.failed, 2);
  assert.equal(w.stats.written, 0);
});

test('path - writes to standard output', async () => {
  const out: string[] = [];
  const w = new AuditLogWriter({ path: '-', stdout: { write: (s) => out.push(s) } });
  w.write('a');
  w.write('b');
  await w.close();
  assert.equal(out.join(''), 'a\nb\n');
});

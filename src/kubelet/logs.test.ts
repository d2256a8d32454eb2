/**
 * Tests for the CRI log reader: table cases over files written in containerd's format, plus
 * follow, rotation, abort and backpressure against real files in a temporary directory.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, appendFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeContainerLogs, parseLogTime, MAX_LINE_BYTES, type LogOptions } from './logs.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bosun-logs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let seq = 0;
async function logFile(content: string, rotated: Record<string, string> = {}): Promise<string> {
  const sub = path.join(dir, `c${++seq}`);
  await import('node:fs/promises').then((fs) => fs.mkdir(sub));
  const file = path.join(sub, '0.log');
  await writeFile(file, content);
  for (const [suffix, text] of Object.entries(rotated)) await writeFile(`${file}.${suffix}`, text);
  return file;
}

/** A CRI line at second `s` of 2024-01-02T03:04 (UTC). */
function L(s: number, msg: string, tag: 'F' | 'P' = 'F', stream: 'stdout' | 'stderr' = 'stdout'): string {
  const ts = `2024-01-02T03:04:${String(s).padStart(2, '0')}.123456789Z`;
  return `${ts} ${stream} ${tag} ${msg}${'\n'}`;
}
const TS = (s: number) => `2024-01-02T03:04:${String(s).padStart(2, '0')}.123456789Z`;

function collector(opts: { highWaterMark?: number; delayMs?: number } = {}) {
  const chunks: Buffer[] = [];
  const w = new Writable({
    highWaterMark: opts.highWaterMark ?? 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      if (opts.delayMs) setTimeout(cb, opts.delayMs);
      else cb();
    },
  });
  return { w, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function read(file: string, opts: LogOptions, ctx: { signal?: AbortSignal; stopped?: () => Promise<boolean> } = {}) {
  const c = collector();
  await writeContainerLogs(file, opts, c.w, { signal: ctx.signal ?? new AbortController().signal, stopped: ctx.stopped });
  return c.text();
}

const five = L(1, 'one') + L(2, 'two', 'F', 'stderr') + L(3, 'three') + L(4, 'four') + L(5, 'five');
const partials = L(1, 'first') + L(2, 'hel', 'P') + L(3, 'lo ', 'P') + L(4, 'world') + L(5, 'last');

const cases: Array<{ name: string; content: string; rotated?: Record<string, string>; opts: LogOptions; want: string }> = [
  { name: 'all lines of both streams, messages only', content: five, opts: {}, want: 'one\ntwo\nthree\nfour\nfive\n' },
  { name: 'P segments are joined into their line', content: partials, opts: {}, want: 'first\nhello world\nlast\n' },
  {
    name: 'timestamps prefix each logical line once, in the fixed nano format',
    content: partials,
    opts: { timestamps: true },
    want: `${TS(1)} first\n${TS(2)} hello world\n${TS(5)} last\n`,
  },
  {
    name: 'timestamps are re-formatted: nine digits, Z for a zero offset, other offsets kept',
    content:
      '2024-01-02T03:04:05.5Z stdout F a\n' +
      '2024-01-02T03:04:05+00:00 stdout F b\n' +
      '2024-01-02T05:04:05.000000001+02:00 stdout F c\n',
    opts: { timestamps: true },
    want:
      '2024-01-02T03:04:05.500000000Z a\n' +
      '2024-01-02T03:04:05.000000000Z b\n' +
      '2024-01-02T05:04:05.000000001+02:00 c\n',
  },
  { name: 'tail 2 gives the last two lines', content: five, opts: { tailLines: 2 }, want: 'four\nfive\n' },
  { name: 'tail counts a P…F group as one line', content: partials, opts: { tailLines: 2 }, want: 'hello world\nlast\n' },
  { name: 'tail larger than the file gives everything', content: five, opts: { tailLines: 100 }, want: 'one\ntwo\nthree\nfour\nfive\n' },
  { name: 'tail 0 gives nothing', content: five, opts: { tailLines: 0 }, want: '' },
  { name: 'a negative tail means all', content: five, opts: { tailLines: -1 }, want: 'one\ntwo\nthree\nfour\nfive\n' },
  {
    name: 'trailing P segments without their F are not a line for tail',
    content: L(1, 'a') + L(2, 'b') + L(3, 'par', 'P'),
    opts: { tailLines: 1 },
    want: 'b\n',
  },
  {
    name: 'without tail, trailing P segments are written as they are',
    content: L(1, 'a') + L(2, 'par', 'P'),
    opts: {},
    want: 'a\npar',
  },
  {
    name: 'an unterminated last line is written without tail',
    content: L(1, 'a') + `${TS(2)} stdout F unterminated`,
    opts: {},
    want: 'a\nunterminated',
  },
  {
    name: 'an unterminated last line is not counted by tail',
    content: L(1, 'a') + L(2, 'b') + `${TS(3)} stdout F unterminated`,
    opts: { tailLines: 1 },
    want: 'b\n',
  },
  {
    name: 'since drops lines stamped before it',
    content: five,
    opts: { sinceTime: new Date('2024-01-02T03:04:03.123Z') },
    want: 'three\nfour\nfive\n',
  },
  {
    name: 'since and tail combine: since filters within the tail',
    content: five,
    opts: { sinceTime: new Date('2024-01-02T03:04:04Z'), tailLines: 3 },
    want: 'four\nfive\n',
  },
  { name: 'limitBytes cuts mid-line at exactly N bytes', content: five, opts: { limitBytes: 10 }, want: 'one\ntwo\nth' },
  {
    name: 'limitBytes counts the timestamp prefix',
    content: five,
    opts: { limitBytes: 35, timestamps: true },
    want: `${TS(1)} one\n`.slice(0, 35),
  },
  { name: 'limitBytes 0 writes nothing', content: five, opts: { limitBytes: 0 }, want: '' },
  {
    name: 'a malformed line after the first is skipped',
    content: L(1, 'a') + 'garbage without fields\n' + '2024-13-01T00:00:00Z stdout F bad month\n' + L(2, 'b'),
    opts: {},
    want: 'a\nb\n',
  },
  {
    name: 'an empty message keeps its newline',
    content: `${TS(1)} stdout F \n` + L(2, 'x'),
    opts: { timestamps: true },
    want: `${TS(1)} \n${TS(2)} x\n`,
  },
  {
    name: 'tags after a colon are ignored (P:more is partial)',
    content: `${TS(1)} stdout P:x ab\n` + L(2, 'cd'),
    opts: {},
    want: 'abcd\n',
  },
  {
    name: 'docker json-file lines are read too',
    content:
      '{"log":"hello\\n","stream":"stdout","time":"2024-01-02T03:04:05.1Z"}\n' +
      '{"log":"err\\n","stream":"stderr","time":"2024-01-02T03:04:06Z"}\n',
    opts: { timestamps: true },
    want: '2024-01-02T03:04:05.100000000Z hello\n2024-01-02T03:04:06.000000000Z err\n',
  },
  {
    name: 'rotated files are read first, oldest first (numbered and stamped)',
    content: L(9, 'current'),
    rotated: { '2': L(1, 'oldest'), '1': L(2, 'older'), '20240102-030405': L(3, 'newest rotated') },
    opts: {},
    want: 'oldest\nolder\nnewest rotated\ncurrent\n',
  },
  {
    name: 'tail reaches back into rotated files',
    content: L(9, 'c1') + L(10, 'c2'),
    rotated: { '1': L(1, 'r1') + L(2, 'r2') + L(3, 'r3'), 'gz-ignored.gz': 'not read' },
    opts: { tailLines: 3 },
    want: 'r3\nc1\nc2\n',
  },
  {
    name: 'a P group split across a rotation is still one line',
    content: L(3, 'tail\'s end') + L(4, 'next'),
    rotated: { '1': L(1, 'before') + L(2, 'start of ', 'P') },
    opts: { tailLines: 2 },
    want: "start of tail's end\nnext\n",
  },
];

for (const c of cases) {
  test(c.name, async () => {
    const file = await logFile(c.content, c.rotated);
    assert.equal(await read(file, c.opts), c.want);
  });
}

test('tail across many read blocks matches a full read', async () => {
  // ~600 KiB: lines of varied length, some split into P segments, crossing block boundaries.
  let content = '';
  const lines: string[] = [];
  for (let i = 0; i < 6000; i++) {
    const msg = `line ${i} ` + 'x'.repeat((i * 37) % 150);
    lines.push(msg + '\n');
    if (i % 7 === 0) content += L(i % 60, msg.slice(0, 5), 'P') + L(i % 60, msg.slice(5));
    else content += L(i % 60, msg);
  }
  const file = await logFile(content);
  for (const n of [1, 2, 7, 100, 1234, 5999, 6000, 7000]) {
    assert.equal(await read(file, { tailLines: n }), lines.slice(-n).join(''), `tail ${n}`);
  }
});

test('long lines spanning read and tail blocks come out whole', async () => {
  const big = (c: string) => c.repeat(150 * 1024);
  const file = await logFile(L(1, big('a')) + L(2, big('b')) + L(3, big('c')));
  assert.ok((await read(file, {})) === `${big('a')}\n${big('b')}\n${big('c')}\n`, 'full read');
  assert.ok((await read(file, { tailLines: 2 })) === `${big('b')}\n${big('c')}\n`, 'tail 2');
});

test('a line longer than MAX_LINE_BYTES is skipped', async () => {
  const file = await logFile(L(1, 'a') + L(2, 'y'.repeat(MAX_LINE_BYTES + 10)) + L(3, 'b'));
  const got = await read(file, {});
  assert.ok(got === 'a\nb\n', `got ${got.length} bytes starting ${JSON.stringify(got.slice(0, 20))}`);
});

test('a first line in no known format is an error', async () => {
  const file = await logFile('not a log line\n' + L(1, 'a'));
  await assert.rejects(read(file, {}), /unsupported log format/);
});

test('a missing file is an error', async () => {
  await assert.rejects(read(path.join(dir, 'nope.log'), {}), { code: 'ENOENT' });
});

test('backpressure: a slow stream with a small buffer still gets every byte in order', async () => {
  let content = '';
  let want = '';
  for (let i = 0; i < 3000; i++) {
    content += L(i % 60, `message ${i} ${'z'.repeat(100)}`);
    want += `message ${i} ${'z'.repeat(100)}\n`;
  }
  const file = await logFile(content);
  const c = collector({ highWaterMark: 1024, delayMs: 1 });
  await writeContainerLogs(file, {}, c.w, { signal: new AbortController().signal });
  assert.equal(c.text(), want);
});

/** Polls `f` until it holds or the deadline passes. */
async function until(f: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('follow: appended lines arrive; a line completes before it is written; stopped drains the rest', async () => {
  const file = await logFile(L(1, 'one'));
  const c = collector();
  let stopped = false;
  const ac = new AbortController();
  const done = writeContainerLogs(file, { follow: true, timestamps: true }, c.w, {
    signal: ac.signal,
    stopped: async () => stopped,
  });
  try {
    await until(() => c.text() === `${TS(1)} one\n`, 'the first line');
    await appendFile(file, L(2, 'two'));
    await until(() => c.text().endsWith(`${TS(2)} two\n`), 'an appended line');
    // Half a line (no newline yet), then a P segment: neither is a complete file line.
    await appendFile(file, `${TS(3)} stdout P par`);
    await sleep(500);
    assert.equal(c.text(), `${TS(1)} one\n${TS(2)} two\n`);
    await appendFile(file, 'tial\n' + L(4, ' end'));
    await until(() => c.text().endsWith(`${TS(3)} partial end\n`), 'the joined line');
    // The container stops right after writing its last line.
    await appendFile(file, L(5, 'bye'));
    stopped = true;
    await done;
    assert.equal(c.text(), `${TS(1)} one\n${TS(2)} two\n${TS(3)} partial end\n${TS(5)} bye\n`);
  } finally {
    ac.abort();
    await done.catch(() => {});
  }
});

test('follow with tail starts at the tail and keeps every later line', async () => {
  const file = await logFile(five);
  const c = collector();
  const ac = new AbortController();
  let stopped = false;
  const done = writeContainerLogs(file, { follow: true, tailLines: 1 }, c.w, { signal: ac.signal, stopped: async () => stopped });
  try {
    await until(() => c.text() === 'five\n', 'the tail');
    await appendFile(file, L(6, 'six') + L(7, 'seven'));
    await until(() => c.text() === 'five\nsix\nseven\n', 'appended lines beyond the tail count');
    stopped = true;
    await done;
  } finally {
    ac.abort();
    await done.catch(() => {});
  }
});

test('follow ends promptly when the signal aborts', async () => {
  const file = await logFile(L(1, 'one'));
  const c = collector();
  const ac = new AbortController();
  const done = writeContainerLogs(file, { follow: true }, c.w, { signal: ac.signal });
  await until(() => c.text() === 'one\n', 'the first line');
  ac.abort();
  await done; // resolves, does not hang or reject
  assert.equal(c.text(), 'one\n');
});

test('follow ends when the output stream is destroyed', async () => {
  const file = await logFile(L(1, 'one'));
  const c = collector();
  const ac = new AbortController();
  const done = writeContainerLogs(file, { follow: true }, c.w, { signal: ac.signal });
  try {
    await until(() => c.text() === 'one\n', 'the first line');
    c.w.destroy();
    await done;
  } finally {
    ac.abort();
  }
});

test('follow across a rotation: the old file is drained, then the new one is read', async () => {
  const file = await logFile(L(1, 'one'));
  const c = collector();
  const ac = new AbortController();
  let stopped = false;
  const done = writeContainerLogs(file, { follow: true }, c.w, { signal: ac.signal, stopped: async () => stopped });
  try {
    await until(() => c.text() === 'one\n', 'the first line');
    // The runtime wrote one more line just before the kubelet rotated the file.
    await appendFile(file, L(2, 'two'));
    await rename(file, `${file}.20240102-030405`);
    await writeFile(file, L(3, 'three'));
    await until(() => c.text() === 'one\ntwo\nthree\n', 'lines from both files');
    await appendFile(file, L(4, 'four'));
    await until(() => c.text() === 'one\ntwo\nthree\nfour\n', 'a line appended to the new file');
    stopped = true;
    await done;
  } finally {
    ac.abort();
    await done.catch(() => {});
  }
});

test('follow after copytruncate starts again from the beginning', async () => {
  const file = await logFile(L(1, 'one') + L(2, 'two'));
  const c = collector();
  const ac = new AbortController();
  let stopped = false;
  const done = writeContainerLogs(file, { follow: true }, c.w, { signal: ac.signal, stopped: async () => stopped });
  try {
    await until(() => c.text() === 'one\ntwo\n', 'the first lines');
    await writeFile(file, L(3, 'x')); // truncated, shorter than before
    await until(() => c.text() === 'one\ntwo\nx\n', 'the line after truncation');
    stopped = true;
    await done;
  } finally {
    ac.abort();
    await done.catch(() => {});
  }
});

const timeCases: Array<{ in: string; want: { stamp: string; ms: number } | undefined }> = [
  { in: '2024-01-02T03:04:05Z', want: { stamp: '2024-01-02T03:04:05.000000000Z', ms: Date.UTC(2024, 0, 2, 3, 4, 5) } },
  { in: '2024-01-02T03:04:05.987654321123Z', want: { stamp: '2024-01-02T03:04:05.987654321Z', ms: Date.UTC(2024, 0, 2, 3, 4, 5, 987) } },
  { in: '2024-01-02T03:04:05.1-01:30', want: { stamp: '2024-01-02T03:04:05.100000000-01:30', ms: Date.UTC(2024, 0, 2, 4, 34, 5, 100) } },
  { in: '2024-01-02T03:04:05-00:00', want: { stamp: '2024-01-02T03:04:05.000000000Z', ms: Date.UTC(2024, 0, 2, 3, 4, 5) } },
  { in: '2023-02-29T00:00:00Z', want: undefined },
  { in: '2024-01-02 03:04:05Z', want: undefined },
  { in: '2024-01-02T03:04:05', want: undefined },
];
for (const c of timeCases) {
  test(`parseLogTime(${JSON.stringify(c.in)})`, () => assert.deepEqual(parseLogTime(c.in), c.want));
}

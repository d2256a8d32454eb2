/**
 * The machine's speed at the moment, for reading a benchmark figure: this machine's shared CPUs
 * run the same JavaScript from 630 to 1,310 ms from one minute to the next, so a figure means
 * little without it. A fixed loop of allocation and JSON encoding (what the server mostly does),
 * run three times in this process; the median in ms (lower is faster). About 2 s.
 */
export function machineSpeedMs(): number {
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    let n = 0;
    const keep: { i: number; s: string }[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      keep.push({ i, s: `x${i & 1023}` });
      if (keep.length > 1000) keep.length = 0;
      n += JSON.stringify(keep[0] ?? {}).length;
    }
    runs.push(performance.now() - t0 + (n < 0 ? 1 : 0));
  }
  runs.sort((a, b) => a - b);
  return Math.round(runs[1]!);
}

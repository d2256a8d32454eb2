/**
 * The node lifecycle controller's pure parts: the allocation-free check the periodic pass uses to
 * skip nodes whose NoExecute taints already agree with their Ready status must answer exactly as
 * comparing against taintsForReady would (upstream's markNodeForTainting / markNodeAsReachable).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Taint } from '../api/index.ts';
import { notReadyTaint, readyTaintsInSync, taintsForReady, unreachableTaint } from './nodelifecycle.ts';

const noExec = (key: string): Taint => ({ key, effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' });
const other: Taint = { key: 'dedicated', value: 'db', effect: 'NoSchedule' };
const key = (ts: readonly Taint[]) => JSON.stringify(ts.map((t) => `${t.key}:${t.effect}`).sort());

const taintSets: { name: string; taints: Taint[] }[] = [
  { name: 'no taints', taints: [] },
  { name: 'an unrelated taint', taints: [other] },
  { name: 'not-ready', taints: [noExec(notReadyTaint)] },
  { name: 'unreachable and another', taints: [other, noExec(unreachableTaint)] },
  { name: 'both', taints: [noExec(notReadyTaint), noExec(unreachableTaint)] },
  { name: 'not-ready twice', taints: [noExec(notReadyTaint), noExec(notReadyTaint)] },
  { name: 'not-ready as NoSchedule only', taints: [{ key: notReadyTaint, effect: 'NoSchedule' }] },
];
for (const ready of [undefined, 'True', 'False', 'Unknown']) {
  for (const c of taintSets) {
    test(`Ready ${ready ?? 'absent'}, ${c.name}: in sync exactly when taintsForReady changes nothing`, () => {
      assert.equal(readyTaintsInSync(ready, c.taints), key(taintsForReady(ready, c.taints, 0)) === key(c.taints));
    });
  }
}

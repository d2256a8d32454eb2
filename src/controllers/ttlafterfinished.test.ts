/**
 * The TTL-after-finished controller: the time left for a Job as a table (as upstream's
 * TestTimeLeft), then the controller against the in-process API server (no Job controller and
 * no garbage collector run: the test finishes Jobs by writing their status). An expired Job is
 * deleted with foreground propagation (so, without a garbage collector, it stays with the
 * foregroundDeletion finalizer), a Job whose TTL has not passed is deleted when it does, and
 * unfinished Jobs or Jobs without a TTL stay.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job, JobSpec } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { InformerFactory, type Clientset, type Recorder } from '../client/index.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { startTestApi, until, type TestApi } from './testing.ts';
import { startTTLAfterFinishedController, timeLeft } from './ttlafterfinished.ts';

const t0 = Date.parse('2025-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const finishedJob = (ttl: number | undefined, x: { finishedAt?: number; type?: string; deleting?: boolean } = {}): Job => ({
  metadata: { name: 'j', namespace: 'ns', ...(x.deleting ? { deletionTimestamp: iso(t0) } : {}) },
  spec: { ...(ttl === undefined ? {} : { ttlSecondsAfterFinished: ttl }), template: {} },
  status: x.finishedAt === undefined ? {} : { conditions: [{ type: x.type ?? 'Complete', status: 'True', lastTransitionTime: iso(x.finishedAt) }] },
});

const cases: { name: string; job: Job; want: number | undefined }[] = [
  { name: 'a Job without a TTL needs no clean-up', job: finishedJob(undefined, { finishedAt: t0 }), want: undefined },
  { name: 'an unfinished Job needs none yet', job: finishedJob(10), want: undefined },
  { name: 'a Job being deleted needs none', job: finishedJob(10, { finishedAt: t0, deleting: true }), want: undefined },
  { name: 'a completed Job expires TTL seconds after it finished', job: finishedJob(10, { finishedAt: t0 - 4_000 }), want: 6_000 },
  { name: 'a failed Job too', job: finishedJob(10, { finishedAt: t0 - 4_000, type: 'Failed' }), want: 6_000 },
  { name: 'a TTL of zero expires at once', job: finishedJob(0, { finishedAt: t0 - 1_000 }), want: -1_000 },
];
for (const c of cases) test(`time left: ${c.name}`, () => assert.equal(timeLeft(c.job, t0), c.want));

let testApi: TestApi | undefined;
let cs: Clientset;
const ac = new AbortController();
let informers: InformerFactory;
const ns = 'ttl';

before(async () => {
  testApi = await startTestApi('ttl-test');
  cs = testApi.cs;
  await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  informers = new InformerFactory(testApi.client, { log: () => {} });
  const ctx: ControllerContext = { client: testApi.client, config: defaultControllerConfig, informers, recorder: () => ({ event() {} }) as Recorder, signal: ac.signal, log: () => {} };
  startTTLAfterFinishedController(ctx);
  informers.start(ac.signal);
});
after(async () => {
  ac.abort();
  await informers?.stopped();
  await testApi?.close();
});

async function job(name: string, ttl: number | undefined, finishedAgoMs?: number): Promise<Job> {
  const spec = { ...(ttl === undefined ? {} : { ttlSecondsAfterFinished: ttl }), template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } as JobSpec;
  const created = await cs.jobs.create({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: ns }, spec }, { namespace: ns });
  if (finishedAgoMs === undefined) return created;
  const at = iso(Math.floor((Date.now() - finishedAgoMs) / 1000) * 1000);
  const status = {
    startTime: at,
    completionTime: at,
    succeeded: 1,
    conditions: ['SuccessCriteriaMet', 'Complete'].map((type) => ({ type, status: 'True', lastTransitionTime: at, lastProbeTime: at, reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' })),
  };
  return cs.jobs.updateStatus({ ...created, status }, { namespace: ns });
}

const get = async (name: string): Promise<Job | undefined> => {
  try {
    return await cs.jobs.get(name, { namespace: ns });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
};

describe('ttl-after-finished controller', () => {
  test('an expired Job is deleted in the foreground', async () => {
    await job('expired', 5, 10_000);
    const deleting = await until('expired deleted', async () => {
      const j = await get('expired');
      return j?.metadata.deletionTimestamp ? j : undefined;
    });
    assert.deepEqual(deleting.metadata.finalizers, ['foregroundDeletion']);
  });

  test('a Job is deleted once its TTL passes, not before', async () => {
    const started = Date.now();
    await job('soon', 2, 0);
    await until('soon deleted', async () => ((await get('soon'))?.metadata.deletionTimestamp ? true : undefined));
    // Finished at the start of this second at the latest, so never deleted a full second early.
    assert.ok(Date.now() - started >= 1_000, `deleted after ${Date.now() - started} ms`);
  });

  test('unfinished Jobs and Jobs without a TTL stay', async () => {
    await job('running', 0);
    await job('kept', undefined, 10_000);
    // A Job the controller does delete shows it has looked at the others meanwhile.
    await job('marker', 0, 10_000);
    await until('marker deleted', async () => ((await get('marker'))?.metadata.deletionTimestamp ? true : undefined));
    assert.equal((await get('running'))?.metadata.deletionTimestamp, undefined);
    assert.equal((await get('kept'))?.metadata.deletionTimestamp, undefined);
  });
});

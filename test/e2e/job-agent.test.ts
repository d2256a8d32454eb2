/**
 * Issue 15 on a real node: Jobs whose busybox pods really run `sh -c` under the node agent
 * (containerd). An Indexed Job completes and each pod printed its JOB_COMPLETION_INDEX (the env
 * var the controller adds, resolved by the kubelet from the pod's label); a pod failure policy
 * fails a Job on the container's real exit code. Needs root; run under
 * `flock /tmp/bosun-agent.lock node --test test/e2e/job-agent.test.ts`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job, Pod } from '../../src/api/index.ts';
import { kubectl, kubectlOk, kubectlVersions, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
let server!: ServerHandle;
if (!skip) useServer({ agent: true }, (s) => (server = s));

const v = kubectlVersions.at(-1)!;

function job(name: string, script: string, spec: Record<string, unknown>) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: { ...spec, template: { spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: busyboxImage, command: ['sh', '-c', script] }] } } },
  };
}

async function wait(name: string, cond: string): Promise<void> {
  const r = await kubectl(server, v, ['wait', `--for=condition=${cond}`, `job/${name}`, '--timeout=120s'], { timeoutMs: 150_000 });
  assert.equal(r.code, 0, `wait ${cond} job/${name}: ${r.stderr}${r.stdout}\n${server.output().slice(-3000)}`);
}

const getJson = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectlOk(server, v, [...args, '-o', 'json'])) as T;

test('busybox Jobs really run: an Indexed Job completes, and a pod failure policy acts on a real exit code', { skip }, async () => {
  await waitForServiceAccount(server, 'default');
  await kubectlOk(server, v, ['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        job('hello', 'echo "hello from $JOB_COMPLETION_INDEX"', { completions: 2, parallelism: 2, completionMode: 'Indexed' }),
        job('fatal', 'exit 3', { backoffLimit: 4, podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [3] } }] } }),
      ],
    }),
  });

  await wait('hello', 'Complete');
  const hello = await getJson<Job>(['get', 'job', 'hello']);
  assert.equal(hello.status?.completedIndexes, '0,1');
  const pods = (await getJson<{ items: Pod[] }>(['get', 'pods', '-l', 'batch.kubernetes.io/job-name=hello'])).items;
  assert.equal(pods.length, 2);
  for (const p of pods) {
    const ix = p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'];
    assert.equal(p.status?.phase, 'Succeeded');
    assert.equal(p.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Completed');
    assert.equal((await kubectlOk(server, v, ['logs', p.metadata.name!])).trim(), `hello from ${ix}`);
  }

  await wait('fatal', 'Failed');
  const fatal = await getJson<Job>(['get', 'job', 'fatal']);
  const [pod] = (await getJson<{ items: Pod[] }>(['get', 'pods', '-l', 'batch.kubernetes.io/job-name=fatal'])).items;
  assert.equal(pod?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 3);
  const failed = fatal.status?.conditions?.find((c) => c.type === 'Failed');
  assert.equal(failed?.reason, 'PodFailurePolicy');
  assert.equal(failed?.message, `Container main for pod default/${pod!.metadata.name} failed with exit code 3 matching FailJob rule at index 0`);
  assert.equal(fatal.status?.failed, 1);
});

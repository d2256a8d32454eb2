/**
 * Pod failure policies and success policies as upstream's pod_failure_policy_test.go and
 * success_policy_test.go table them: which rule matches a failed pod (exit codes of regular then
 * init containers, In / NotIn, by container name; pod conditions), what each action means, and
 * upstream's FailJob messages; which success rule is met by the succeeded indexes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, PodFailurePolicy, SuccessPolicy } from '../api/index.ts';
import { matchPodFailurePolicy, matchSuccessPolicy, type PodFailurePolicyMatch } from './job-policy.ts';
import { parseIndexes } from './job-indexes.ts';

const failed = (exits: Record<string, number>, x: { init?: Record<string, number>; conditions?: [string, string][] } = {}): Pod => {
  const statuses = (m: Record<string, number>) =>
    Object.entries(m).map(([name, exitCode]) => ({ name, ready: false, restartCount: 0, image: 'i', imageID: '', state: exitCode < 0 ? { running: {} } : { terminated: { exitCode } } }));
  return {
    metadata: { name: 'p', namespace: 'ns' },
    status: {
      phase: 'Failed',
      containerStatuses: statuses(exits),
      ...(x.init ? { initContainerStatuses: statuses(x.init) } : {}),
      ...(x.conditions ? { conditions: x.conditions.map(([type, status]) => ({ type, status })) } : {}),
    },
  };
};

const exitRule = (action: string, operator: string, values: number[], containerName?: string) => ({ action, onExitCodes: { operator, values, ...(containerName ? { containerName } : {}) } });
const condRule = (action: string, type: string, status = 'True') => ({ action, onPodConditions: [{ type, status }] });

const cases: { name: string; policy?: PodFailurePolicy; pod: Pod; want: PodFailurePolicyMatch }[] = [
  { name: 'no policy counts the failure', pod: failed({ c: 1 }), want: { countFailed: true } },
  {
    name: 'FailJob on an exit code gives upstream’s message',
    policy: { rules: [exitRule('FailJob', 'In', [42])] },
    pod: failed({ c: 42 }),
    want: { countFailed: true, action: 'FailJob', failJobMessage: 'Container c for pod ns/p failed with exit code 42 matching FailJob rule at index 0' },
  },
  { name: 'NotIn matches codes not listed', policy: { rules: [exitRule('Count', 'NotIn', [1, 2])] }, pod: failed({ c: 3 }), want: { countFailed: true, action: 'Count' } },
  { name: 'NotIn does not match a listed code', policy: { rules: [exitRule('Ignore', 'NotIn', [3])] }, pod: failed({ c: 3 }), want: { countFailed: true } },
  { name: 'exit code 0 never matches', policy: { rules: [exitRule('Ignore', 'NotIn', [1])] }, pod: failed({ c: 0 }), want: { countFailed: true } },
  { name: 'a running container has no exit code', policy: { rules: [exitRule('Ignore', 'NotIn', [1])] }, pod: failed({ c: -1 }), want: { countFailed: true } },
  { name: 'the container name must match', policy: { rules: [exitRule('Ignore', 'In', [5], 'other')] }, pod: failed({ c: 5 }), want: { countFailed: true } },
  {
    name: 'init containers are looked at after the regular ones',
    policy: { rules: [exitRule('FailJob', 'In', [7])] },
    pod: failed({ c: 1 }, { init: { setup: 7 } }),
    want: { countFailed: true, action: 'FailJob', failJobMessage: 'Container setup for pod ns/p failed with exit code 7 matching FailJob rule at index 0' },
  },
  { name: 'Ignore on a disruption does not count', policy: { rules: [condRule('Ignore', 'DisruptionTarget')] }, pod: failed({ c: 137 }, { conditions: [['DisruptionTarget', 'True']] }), want: { countFailed: false, action: 'Ignore' } },
  {
    name: 'FailJob on a pod condition names the condition',
    policy: { rules: [exitRule('Count', 'In', [1]), condRule('FailJob', 'DisruptionTarget')] },
    pod: failed({ c: 2 }, { conditions: [['DisruptionTarget', 'True']] }),
    want: { countFailed: true, action: 'FailJob', failJobMessage: 'Pod ns/p has condition DisruptionTarget matching FailJob rule at index 1' },
  },
  { name: 'the condition status must match', policy: { rules: [condRule('Ignore', 'DisruptionTarget', 'True')] }, pod: failed({ c: 2 }, { conditions: [['DisruptionTarget', 'False']] }), want: { countFailed: true } },
  { name: 'FailIndex counts and says so', policy: { rules: [exitRule('FailIndex', 'In', [3])] }, pod: failed({ c: 3 }), want: { countFailed: true, action: 'FailIndex' } },
  {
    name: 'the first matching rule wins',
    policy: { rules: [exitRule('Ignore', 'In', [3]), exitRule('FailJob', 'In', [3])] },
    pod: failed({ c: 3 }),
    want: { countFailed: false, action: 'Ignore' },
  },
];
for (const c of cases) test(`pod failure policy: ${c.name}`, () => assert.deepEqual(matchPodFailurePolicy(c.policy, c.pod), c.want));

const successCases: { name: string; policy: SuccessPolicy; completions: number; succeeded: string; want: string | undefined }[] = [
  { name: 'all listed indexes succeeded', policy: { rules: [{ succeededIndexes: '0,2' }] }, completions: 5, succeeded: '0-2', want: 'Matched rules at index 0' },
  { name: 'a listed index is missing', policy: { rules: [{ succeededIndexes: '0,3' }] }, completions: 5, succeeded: '0-2', want: undefined },
  { name: 'enough of the listed indexes', policy: { rules: [{ succeededIndexes: '0-3', succeededCount: 2 }] }, completions: 5, succeeded: '1,3', want: 'Matched rules at index 0' },
  { name: 'a count alone counts every index', policy: { rules: [{ succeededIndexes: '4' }, { succeededCount: 3 }] }, completions: 5, succeeded: '0-2', want: 'Matched rules at index 1' },
  { name: 'nothing succeeded yet', policy: { rules: [{ succeededCount: 0 }] }, completions: 5, succeeded: '', want: undefined },
  { name: 'a rule whose indexes are all out of range is skipped', policy: { rules: [{ succeededIndexes: '9' }, { succeededCount: 1 }] }, completions: 5, succeeded: '0', want: 'Matched rules at index 1' },
];
for (const c of successCases) {
  test(`success policy: ${c.name}`, () => assert.equal(matchSuccessPolicy(c.policy, c.completions, parseIndexes(c.succeeded, c.completions)), c.want));
}

/**
 * The generated API types (./types.ts) match the schema files: regenerated in memory, the text
 * must equal the committed file (else run `npm run gen:types`). Also the mapping and naming rules
 * of src/api/schema/gen-types.ts, on chosen types.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateCommand, generatedPath, generateTypes } from '../schema/gen-types.ts';
import type { ApiObject, KubeObject, Pod, PodSpec } from '../index.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const generated = generateTypes();

/** The declaration of a type in the generated text (from `export type Name =` to its end). */
function declaration(name: string): string {
  const start = generated.indexOf(`\nexport type ${name} = `);
  assert.ok(start >= 0, `${name} is declared`);
  const end = generated.indexOf('\nexport ', start + 1);
  return generated.slice(start + 1, end < 0 ? undefined : end);
}

test('the committed generated file is up to date with the schema', () => {
  const committed = fs.readFileSync(`${root}${generatedPath}`, 'utf8');
  assert.ok(committed === generated, `${generatedPath} is stale: run \`${generateCommand}\` and commit the result`);
});

test('generating twice gives the same text', () => {
  assert.equal(generateTypes(), generated);
});

const fieldCases: { name: string; type: string; line: string }[] = [
  { name: 'a kind has TypeMeta and a required metadata', type: 'Pod', line: '  kind?: string;\n  apiVersion?: string;\n  metadata: ObjectMeta;\n  spec?: PodSpec;' },
  { name: 'a required field without omitempty is required', type: 'PodSpec', line: '  containers: Container[];' },
  { name: 'an optional pointer is optional', type: 'PodSpec', line: '  priority?: number;' },
  { name: 'a pointer without omitempty may be null', type: 'DeploymentSpec', line: '  selector?: LabelSelector | null;' },
  { name: 'a non-pointer Time may be null, as Go writes the zero time', type: 'ObjectMeta', line: '  creationTimestamp?: Time | null;' },
  { name: 'a pointer Time with omitempty is a plain optional string', type: 'ObjectMeta', line: '  deletionTimestamp?: Time;' },
  { name: 'map[string]string is a record', type: 'ObjectMeta', line: '  labels?: Record<string, string>;' },
  { name: 'IntOrString is number | string', type: 'ServicePort', line: '  targetPort?: IntOrString;' },
  { name: 'Quantity maps stay records of strings', type: 'ResourceRequirements', line: '  requests?: Record<string, Quantity>;' },
  { name: 'RawExtension is an object', type: 'ControllerRevision', line: '  data?: RawExtension;' },
  { name: 'an inline struct is flattened into the outer type', type: 'Volume', line: '  name: string;\n  hostPath?: HostPathVolumeSource;' },
  { name: 'a oneof type is the union of its members', type: 'JSONSchemaPropsOrBool', line: 'export type JSONSchemaPropsOrBool = boolean | JSONSchemaProps;' },
  { name: 'a named list is an array type', type: 'Verbs', line: 'export type Verbs = string[];' },
  { name: 'a property that is no identifier is quoted', type: 'JSONSchemaProps', line: "  'x-kubernetes-int-or-string'?: boolean;" },
  { name: 'a list kind has required metadata and items', type: 'PodList', line: '  metadata: ListMeta;\n  items: Pod[];' },
];
for (const c of fieldCases) {
  test(`mapping: ${c.name}`, () => assert.ok(declaration(c.type).includes(c.line), `${c.type} has\n${c.line}\nin\n${declaration(c.type)}`));
}

const nameCases: { name: string; type: string; has: string }[] = [
  { name: 'core Event keeps the bare name (core before events.k8s.io)', type: 'Event', has: 'involvedObject: ObjectReference;' },
  { name: 'events.k8s.io Event is prefixed', type: 'EventsV1Event', has: 'reportingController?: string;' },
  { name: 'the winner is also exported with its prefix', type: 'CoreV1Event', has: 'export type CoreV1Event = Event;' },
  { name: 'the newest version of a group keeps the bare name', type: 'HorizontalPodAutoscalerSpec', has: 'behavior?: HorizontalPodAutoscalerBehavior;' },
  { name: 'an older version is prefixed', type: 'AutoscalingV1HorizontalPodAutoscalerSpec', has: 'targetCPUUtilizationPercentage?: number;' },
  { name: 'references inside a prefixed type use prefixed names', type: 'AutoscalingV1HorizontalPodAutoscalerSpec', has: 'scaleTargetRef: AutoscalingV1CrossVersionObjectReference;' },
  { name: 'a kind beats a type of an earlier group that is not a kind', type: 'TokenRequest', has: 'spec: TokenRequestSpec;' },
  { name: 'the non-kind is prefixed', type: 'StorageV1TokenRequest', has: 'audience: string;' },
  { name: 'core List (a kind) beats meta List', type: 'MetaV1List', has: 'items: RawExtension[];' },
  { name: 'discovery EndpointPort is prefixed', type: 'DiscoveryV1EndpointPort', has: 'port?: number;' },
];
for (const c of nameCases) {
  test(`naming: ${c.name}`, () => assert.ok(declaration(c.type).includes(c.has), declaration(c.type)));
}

test('every kind with ObjectMeta is in ObjectKinds by apiVersion/kind', () => {
  const block = generated.slice(generated.indexOf('export interface ObjectKinds {'));
  for (const line of ["  'v1/Pod': Pod;", "  'apps/v1/Deployment': Deployment;", "  'events.k8s.io/v1/Event': EventsV1Event;", "  'autoscaling/v1/HorizontalPodAutoscaler': AutoscalingV1HorizontalPodAutoscaler;", "  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler;"]) {
    assert.ok(block.includes(line), line);
  }
  assert.ok(!block.includes("'v1/PodList'"), 'lists carry ListMeta, not ObjectMeta');
});

test('generated kinds are plain data usable as ApiObject and Record', () => {
  const spec: PodSpec = { containers: [{ name: 'c', image: 'i', resources: { requests: { cpu: '100m' } } }] };
  const pod: Pod = { metadata: { name: 'p', namespace: 'd', creationTimestamp: null }, spec };
  const generic: ApiObject = pod;
  const record: Record<string, unknown> = pod;
  // @ts-expect-error a misspelt field is a compile error, not a silent undefined
  void pod.spec?.container;
  const untyped: KubeObject = { metadata: { name: 'k' }, spec: {} };
  const back: ApiObject = untyped;
  assert.equal(generic.metadata.name, 'p');
  assert.equal(record['spec'], spec);
  assert.equal(back.metadata.name, 'k');
});

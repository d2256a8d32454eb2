/**
 * OpenAPI v3 schemas of the metrics.k8s.io/v1beta1 kinds, as metrics-server publishes them
 * (k8s.io/metrics types, definition names `io.k8s.metrics.pkg.apis.metrics.v1beta1.*`), so that
 * `kubectl explain nodemetrics` and `kubectl explain podmetrics.containers` work. References to
 * apimachinery types (ObjectMeta, ListMeta, Time, Duration, Quantity) are resolved by the API
 * server's OpenAPI builder. Data only.
 */

import { typeMetaProperties } from '../apiserver/openapi.ts';

type Schema = Record<string, unknown>;

const prefix = 'io.k8s.metrics.pkg.apis.metrics.v1beta1';
const meta = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const quantityMap = (description: string): Schema => ({ description, type: 'object', additionalProperties: { allOf: [ref('io.k8s.apimachinery.pkg.api.resource.Quantity')] } });


const objectMeta: Schema = { allOf: [ref(`${meta}.ObjectMeta`)], default: {}, description: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata" };
const listMeta: Schema = { allOf: [ref(`${meta}.ListMeta`)], default: {}, description: 'Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds' };
const interval = {
  timestamp: { allOf: [ref(`${meta}.Time`)], description: 'The following fields define time interval from which metrics were collected from the interval [Timestamp-Window, Timestamp].' },
  window: { allOf: [ref(`${meta}.Duration`)] },
};

const schemas: Record<string, Schema> = {
  [`${prefix}.ContainerMetrics`]: {
    description: 'ContainerMetrics sets resource usage metrics of a container.',
    type: 'object',
    properties: { name: { description: 'Container name corresponding to the one from pod.spec.containers.', type: 'string', default: '' }, usage: quantityMap('The memory usage is the memory working set.') },
    required: ['name', 'usage'],
  },
  [`${prefix}.NodeMetrics`]: {
    description: 'NodeMetrics sets resource usage metrics of a node.',
    type: 'object',
    properties: { ...typeMetaProperties, metadata: objectMeta, ...interval, usage: quantityMap('The memory usage is the memory working set.') },
    required: ['timestamp', 'window', 'usage'],
  },
  [`${prefix}.NodeMetricsList`]: {
    description: 'NodeMetricsList is a list of NodeMetrics.',
    type: 'object',
    properties: { ...typeMetaProperties, metadata: listMeta, items: { description: 'List of node metrics.', type: 'array', items: { allOf: [ref(`${prefix}.NodeMetrics`)], default: {} } } },
    required: ['items'],
  },
  [`${prefix}.PodMetrics`]: {
    description: 'PodMetrics sets resource usage metrics of a pod.',
    type: 'object',
    properties: {
      ...typeMetaProperties,
      metadata: objectMeta,
      ...interval,
      containers: { description: 'Metrics for all containers are collected within the same time window.', type: 'array', items: { allOf: [ref(`${prefix}.ContainerMetrics`)], default: {} }, 'x-kubernetes-list-type': 'atomic' },
    },
    required: ['timestamp', 'window', 'containers'],
  },
  [`${prefix}.PodMetricsList`]: {
    description: 'PodMetricsList is a list of PodMetrics.',
    type: 'object',
    properties: { ...typeMetaProperties, metadata: listMeta, items: { description: 'List of pod metrics.', type: 'array', items: { allOf: [ref(`${prefix}.PodMetrics`)], default: {} } } },
    required: ['items'],
  },
};

/** A kind's schema: its definition name and the definitions it brings (the kind, its list, its parts). */
export interface KindSchema {
  name: string;
  schemas: Record<string, Schema>;
}

export const nodeMetricsSchema: KindSchema = { name: `${prefix}.NodeMetrics`, schemas: pick(['NodeMetrics', 'NodeMetricsList']) };
export const podMetricsSchema: KindSchema = { name: `${prefix}.PodMetrics`, schemas: pick(['PodMetrics', 'PodMetricsList', 'ContainerMetrics']) };

function pick(kinds: string[]): Record<string, Schema> {
  return Object.fromEntries(kinds.map((k) => [`${prefix}.${k}`, schemas[`${prefix}.${k}`]!]));
}

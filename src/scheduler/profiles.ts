/**
 * Scheduling profiles: the plugin registry, upstream's default profile, and the
 * KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) that turns into profiles, one per
 * schedulerName. A profile's plugins are the defaults changed by its `plugins` section
 * (multiPoint, or per extension point: preFilter/filter, preScore/score, postFilter, preBind;
 * `disabled: [{name: '*'}]` drops all defaults of that point; weights apply to score) and built
 * with the `args` of its `pluginConfig`.
 */
import { parse as parseYaml } from 'yaml';
import {
  emptyHandle,
  imageLocalityPlugin,
  interPodAffinityPlugin,
  nodeAffinity,
  nodeName,
  nodePorts,
  nodeResourcesBalancedAllocation,
  nodeResourcesFitPlugin,
  nodeUnschedulable,
  taintToleration,
  type FitArgs,
  type InterPodAffinityArgs,
  type Plugin,
  type PluginHandle,
} from './plugins.ts';
import { podTopologySpreadPlugin, type SpreadArgs } from './spread.ts';
import { volumeBindingPlugin, type VolumeBindingArgs } from './volumes.ts';

// The configuration file is untrusted YAML, not an API object: it is read defensively.
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

/** A plugin's `args` from the configuration (its pluginConfig entry), as parsed. */
export type PluginArgs = Record<string, unknown>;

export type PluginFactory = (args: PluginArgs, handle: PluginHandle) => Plugin;

function pluginRegistry(entries: [string, PluginFactory][]): ReadonlyMap<string, PluginFactory> {
  const m = new Map<string, PluginFactory>();
  for (const [name, factory] of entries) {
    if (m.has(name)) throw new Error(`scheduler plugin ${name} registered twice`);
    m.set(name, factory);
  }
  return m;
}

/** Every plugin a profile may name. */
export const registry = pluginRegistry([
  ['NodeUnschedulable', () => nodeUnschedulable],
  ['NodeName', () => nodeName],
  ['TaintToleration', () => taintToleration],
  ['NodeAffinity', () => nodeAffinity],
  ['NodePorts', () => nodePorts],
  ['NodeResourcesFit', (args) => nodeResourcesFitPlugin(args as FitArgs)],
  ['VolumeBinding', (args, handle) => volumeBindingPlugin(handle, args as VolumeBindingArgs)],
  ['PodTopologySpread', (args, handle) => podTopologySpreadPlugin(handle, args as SpreadArgs)],
  ['InterPodAffinity', (args, handle) => interPodAffinityPlugin(handle, args as InterPodAffinityArgs)],
  ['NodeResourcesBalancedAllocation', () => nodeResourcesBalancedAllocation],
  ['ImageLocality', () => imageLocalityPlugin()],
]);

/**
 * Upstream plugins whose work is done by the framework itself here (queue sort, gates, binding,
 * preemption) or that have nothing to act on yet (volume limits and zones): a profile may name
 * them. Disabling DefaultPreemption turns preemption off.
 */
const builtIn = new Set(['PrioritySort', 'SchedulingGates', 'DefaultBinder', 'DefaultPreemption', 'VolumeRestrictions', 'NodeVolumeLimits', 'VolumeZone']);

/** Upstream's default profile order for the plugins implemented here. */
const defaultNames = [
  'NodeUnschedulable',
  'NodeName',
  'TaintToleration',
  'NodeAffinity',
  'NodePorts',
  'NodeResourcesFit',
  'VolumeBinding',
  'PodTopologySpread',
  'InterPodAffinity',
  'NodeResourcesBalancedAllocation',
  'ImageLocality',
];

/** A profile ready to run: its plugins in order, each limited to the points enabled for it. */
export interface Profile {
  schedulerName: string;
  plugins: Plugin[];
  preemption: boolean;
  /** Percent of nodes to find feasible before scoring (0: adaptive, as upstream). */
  percentageOfNodesToScore: number;
}

/** The parsed KubeSchedulerConfiguration (the parts used here). */
export interface SchedulerConfig {
  percentageOfNodesToScore?: number;
  profiles: ProfileConfig[];
}

export interface ProfileConfig {
  schedulerName?: string;
  percentageOfNodesToScore?: number;
  plugins?: Record<string, { enabled?: { name: string; weight?: number }[]; disabled?: { name: string }[] }>;
  pluginConfig?: { name: string; args?: PluginArgs }[];
}

const points = ['queueSort', 'preEnqueue', 'preFilter', 'filter', 'postFilter', 'preScore', 'score', 'reserve', 'permit', 'preBind', 'bind', 'postBind', 'multiPoint'];

/** Parses and validates a KubeSchedulerConfiguration file (YAML or JSON); throws on errors. */
export function parseSchedulerConfig(text: string): SchedulerConfig {
  const doc = obj(parseYaml(text));
  const errs: string[] = [];
  if (doc['apiVersion'] !== 'kubescheduler.config.k8s.io/v1') errs.push(`apiVersion: Unsupported value: ${JSON.stringify(doc['apiVersion'] ?? '')}: supported values: "kubescheduler.config.k8s.io/v1"`);
  if (doc['kind'] !== 'KubeSchedulerConfiguration') errs.push(`kind: Unsupported value: ${JSON.stringify(doc['kind'] ?? '')}: supported values: "KubeSchedulerConfiguration"`);
  const pct = doc['percentageOfNodesToScore'];
  if (pct !== undefined && (typeof pct !== 'number' || pct < 0 || pct > 100)) errs.push(`percentageOfNodesToScore: Invalid value: ${JSON.stringify(pct)}: not in valid range [0-100]`);
  const profiles = (doc['profiles'] === undefined ? [{}] : arr(doc['profiles'])) as ProfileConfig[];
  if (!profiles.length) errs.push('profiles: Required value: at least one profile is required');
  const names = new Set<string>();
  profiles.forEach((p, i) => {
    const at = `profiles[${i}]`;
    const name = p.schedulerName ?? 'default-scheduler';
    if (typeof name !== 'string' || !name) errs.push(`${at}.schedulerName: Required value`);
    else if (names.has(name)) errs.push(`${at}.schedulerName: Duplicate value: ${JSON.stringify(name)}`);
    names.add(name);
    for (const [point, set] of Object.entries(obj(p.plugins))) {
      if (!points.includes(point)) {
        errs.push(`${at}.plugins.${point}: Unsupported value: ${JSON.stringify(point)}`);
        continue;
      }
      for (const kind of ['enabled', 'disabled'] as const) {
        arr(obj(set)[kind]).forEach((e, j) => {
          const n = e['name'];
          if (n === '*' && kind === 'disabled') return;
          if (typeof n !== 'string' || (!registry.has(n) && !builtIn.has(n))) errs.push(`${at}.plugins.${point}.${kind}[${j}].name: Invalid value: ${JSON.stringify(n)}: plugin does not exist`);
          const w = e['weight'];
          if (w !== undefined && (typeof w !== 'number' || w < 0 || !Number.isInteger(w))) errs.push(`${at}.plugins.${point}.${kind}[${j}].weight: Invalid value: ${JSON.stringify(w)}: must be a non-negative integer`);
        });
      }
    }
    arr(p.pluginConfig).forEach((c, j) => {
      const n = c['name'];
      if (typeof n !== 'string' || (!registry.has(n) && !builtIn.has(n))) errs.push(`${at}.pluginConfig[${j}].name: Invalid value: ${JSON.stringify(n)}: plugin does not exist`);
    });
    const strategy = obj(obj(arr(p.pluginConfig).find((c) => c['name'] === 'NodeResourcesFit')?.['args'])['scoringStrategy'])['type'];
    if (strategy !== undefined && strategy !== 'LeastAllocated' && strategy !== 'MostAllocated' && strategy !== 'RequestedToCapacityRatio') {
      errs.push(`${at}.pluginConfig.NodeResourcesFit.scoringStrategy.type: Unsupported value: ${JSON.stringify(strategy)}: supported values: "LeastAllocated", "MostAllocated"`);
    }
  });
  if (errs.length) throw new Error(`invalid scheduler configuration: ${errs.join('; ')}`);
  return { percentageOfNodesToScore: pct as number | undefined, profiles };
}

export const defaultConfig: SchedulerConfig = { profiles: [{ schedulerName: 'default-scheduler' }] };

type Group = 'filter' | 'score' | 'preBind' | 'postFilter';
const groupOf: Record<string, Group | undefined> = { preFilter: 'filter', filter: 'filter', preScore: 'score', score: 'score', preBind: 'preBind', postFilter: 'postFilter' };

/** Builds the profiles of a configuration, their plugins made with `handle`. */
export function buildProfiles(config: SchedulerConfig, handle: PluginHandle = emptyHandle): Profile[] {
  return config.profiles.map((p) => buildProfile(p, config.percentageOfNodesToScore ?? 0, handle));
}

function buildProfile(p: ProfileConfig, percentage: number, handle: PluginHandle): Profile {
  const plugins = obj(p.plugins) as NonNullable<ProfileConfig['plugins']>;
  // Per plugin name: the groups it is enabled for, and its score weight if configured.
  const order: string[] = [];
  const enabled = new Map<string, Set<Group | 'multi'>>();
  const weights = new Map<string, number>();
  const enable = (name: string, group: Group | 'multi') => {
    if (!enabled.has(name)) (order.push(name), enabled.set(name, new Set()));
    enabled.get(name)!.add(group);
  };
  const multi = plugins['multiPoint'];
  const multiOff = new Set((multi?.disabled ?? []).map((d) => d.name));
  for (const n of [...defaultNames, 'DefaultPreemption']) if (!multiOff.has('*') && !multiOff.has(n)) enable(n, 'multi');
  for (const e of multi?.enabled ?? []) {
    enable(e.name, 'multi');
    if (e.weight) weights.set(e.name, e.weight);
  }
  // Per-point settings apply on top of multiPoint: disabled ones drop, enabled ones add.
  const off = new Map<Group, Set<string>>();
  for (const [point, set] of Object.entries(plugins)) {
    const group = groupOf[point];
    if (!group) continue;
    for (const d of set.disabled ?? []) {
      if (!off.has(group)) off.set(group, new Set());
      off.get(group)!.add(d.name);
    }
  }
  for (const [point, set] of Object.entries(plugins)) {
    const group = groupOf[point];
    if (!group) continue;
    for (const e of set.enabled ?? []) {
      enable(e.name, group);
      off.get(group)?.delete(e.name);
      if (point === 'score' && e.weight) weights.set(e.name, e.weight);
    }
  }
  const on = (name: string, group: Group) => {
    const g = enabled.get(name);
    if (!g) return false;
    if (g.has(group)) return true;
    const dropped = off.get(group);
    return g.has('multi') && !(dropped?.has('*') || dropped?.has(name));
  };
  const args = new Map(arr(p.pluginConfig).map((c) => [String(c['name']), obj(c['args'])]));
  const built: Plugin[] = [];
  for (const name of order) {
    const factory = registry.get(name);
    if (!factory) continue;
    const base = factory(args.get(name) ?? {}, handle);
    const filter = on(name, 'filter');
    const score = on(name, 'score');
    const preBind = on(name, 'preBind');
    if (!filter && !score && !preBind) continue;
    built.push({
      name: base.name,
      check: filter ? base.check : undefined,
      preFilter: filter ? base.preFilter : undefined,
      filter: filter ? base.filter : undefined,
      filterNeeded: filter ? base.filterNeeded : undefined,
      unchangedWithout: filter ? base.unchangedWithout : undefined,
      preScore: score ? base.preScore : undefined,
      score: score ? base.score : undefined,
      normalize: base.normalize,
      weight: weights.get(name) ?? base.weight ?? 1,
      preBind: preBind ? base.preBind : undefined,
    });
  }
  return {
    schedulerName: p.schedulerName ?? 'default-scheduler',
    plugins: built,
    preemption: on('DefaultPreemption', 'postFilter'),
    percentageOfNodesToScore: p.percentageOfNodesToScore ?? percentage,
  };
}

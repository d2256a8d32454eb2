/**
 * HorizontalPodAutoscaler metric specs and statuses between autoscaling/v2 (the stored shape) and
 * the autoscaling/v1 shapes upstream keeps in the `autoscaling.alpha.kubernetes.io/metrics` and
 * `.../current-metrics` annotations (k8s.io/api autoscaling/v1 MetricSpec and MetricStatus: the
 * v2beta1-style `metricName`, `targetAverageValue`, `targetAverageUtilization`, `object.target`,
 * `external.metricSelector` ...), following the per-source functions of upstream's
 * pkg/apis/autoscaling/v1/conversion.go and its generated ones.
 *
 * Written (v2 → v1) with Go's field order and omitempty rules: a non-pointer Quantity left unset is
 * "0", an unset apiVersion, selector or pointer field is left out. Read (v1 → v2) with Go's
 * json.Unmarshal rules (autoscaling-gojson.ts); a value of the wrong type throws GoJsonTypeError.
 *
 * One departure, so that v2 → v1 → v2 gives back what was stored: upstream always sets an Object
 * metric's `target.value` (and an Object or External status's `current.value`) from the v1
 * non-pointer field, which reads "0" when the v2 object had only an average; here that "0" is
 * left out when an average is given.
 */
import { arr, field, int, isZeroQuantity, obj, qty, quantityOut, str, type J } from './autoscaling-gojson.ts';

const sources = ['object', 'pods', 'resource', 'containerResource', 'external'] as const;
type Source = (typeof sources)[number];

const present = (v: unknown): boolean => v !== undefined && v !== null;

// ---- v2 → v1 (written into the annotations) ------------------------------------------------

function refOut(r: J | undefined): J {
  const out: J = { kind: r?.['kind'] ?? '', name: r?.['name'] ?? '' };
  if (r?.['apiVersion']) out['apiVersion'] = r['apiVersion'];
  return out;
}

function specSourceOut(key: Source, s: J): J {
  const target = (s['target'] ?? {}) as J;
  const metric = (s['metric'] ?? {}) as J;
  const out: J = {};
  switch (key) {
    case 'object':
      out['target'] = refOut(s['describedObject']);
      out['metricName'] = metric['name'] ?? '';
      out['targetValue'] = present(target['value']) ? quantityOut(target['value']) : '0';
      if (present(metric['selector'])) out['selector'] = metric['selector'];
      if (present(target['averageValue'])) out['averageValue'] = quantityOut(target['averageValue']);
      return out;
    case 'pods':
      out['metricName'] = metric['name'] ?? '';
      out['targetAverageValue'] = present(target['averageValue']) ? quantityOut(target['averageValue']) : '0';
      if (present(metric['selector'])) out['selector'] = metric['selector'];
      return out;
    case 'resource':
    case 'containerResource':
      out['name'] = s['name'] ?? '';
      if (present(target['averageUtilization'])) out['targetAverageUtilization'] = target['averageUtilization'];
      if (present(target['averageValue'])) out['targetAverageValue'] = quantityOut(target['averageValue']);
      if (key === 'containerResource') out['container'] = s['container'] ?? '';
      return out;
    case 'external':
      out['metricName'] = metric['name'] ?? '';
      if (present(metric['selector'])) out['metricSelector'] = metric['selector'];
      if (present(target['value'])) out['targetValue'] = quantityOut(target['value']);
      if (present(target['averageValue'])) out['targetAverageValue'] = quantityOut(target['averageValue']);
      return out;
  }
}

function statusSourceOut(key: Source, s: J): J {
  const current = (s['current'] ?? {}) as J;
  const metric = (s['metric'] ?? {}) as J;
  const out: J = {};
  const currentValue = present(current['value']) ? quantityOut(current['value']) : '0';
  const currentAverage = present(current['averageValue']) ? quantityOut(current['averageValue']) : '0';
  switch (key) {
    case 'object':
      out['target'] = refOut(s['describedObject']);
      out['metricName'] = metric['name'] ?? '';
      out['currentValue'] = currentValue;
      if (present(metric['selector'])) out['selector'] = metric['selector'];
      if (present(current['averageValue'])) out['averageValue'] = currentAverage;
      return out;
    case 'pods':
      out['metricName'] = metric['name'] ?? '';
      out['currentAverageValue'] = currentAverage;
      if (present(metric['selector'])) out['selector'] = metric['selector'];
      return out;
    case 'resource':
    case 'containerResource':
      out['name'] = s['name'] ?? '';
      if (present(current['averageUtilization'])) out['currentAverageUtilization'] = current['averageUtilization'];
      out['currentAverageValue'] = currentAverage;
      if (key === 'containerResource') out['container'] = s['container'] ?? '';
      return out;
    case 'external':
      out['metricName'] = metric['name'] ?? '';
      if (present(metric['selector'])) out['metricSelector'] = metric['selector'];
      out['currentValue'] = currentValue;
      if (present(current['averageValue'])) out['currentAverageValue'] = currentAverage;
      return out;
  }
}

/** A v2 MetricSpec as a v1 MetricSpec (every source present is converted, as the generated code does). */
export function metricSpecToV1(m: J): J {
  const out: J = { type: m['type'] ?? '' };
  for (const key of sources) if (present(m[key])) out[key] = specSourceOut(key, m[key]);
  return out;
}

/** A v2 MetricStatus as a v1 MetricStatus. */
export function metricStatusToV1(m: J): J {
  const out: J = { type: m['type'] ?? '' };
  for (const key of sources) if (present(m[key])) out[key] = statusSourceOut(key, m[key]);
  return out;
}

// ---- v1 (read from the annotations) → v2 ----------------------------------------------------

function refIn(v: unknown, what: string): J {
  const r = obj(v, what) ?? {};
  const out: J = { kind: str(field(r, 'kind'), `${what}.kind`), name: str(field(r, 'name'), `${what}.name`) };
  const apiVersion = str(field(r, 'apiVersion'), `${what}.apiVersion`);
  if (apiVersion) out['apiVersion'] = apiVersion;
  return out;
}

function identifier(s: J, selectorKey: string, what: string): J {
  const out: J = { name: str(field(s, 'metricName'), `${what}.metricName`) };
  const selector = obj(field(s, selectorKey), `${what}.${selectorKey}`);
  if (selector) out['selector'] = selector;
  return out;
}

/** A v2 MetricTarget or MetricValueStatus with the pointer fields that are set, in Go's order. */
function value(type: string | undefined, v: { value?: string; averageValue?: string; averageUtilization?: number }): J {
  const out: J = type === undefined ? {} : { type };
  if (v.value !== undefined) out['value'] = v.value;
  if (v.averageValue !== undefined) out['averageValue'] = v.averageValue;
  if (v.averageUtilization !== undefined) out['averageUtilization'] = v.averageUtilization;
  return out;
}

/** The v1 non-pointer value next to an average: kept unless it is the zero an unset field reads as. */
const besideAverage = (v: string | undefined, average: string | undefined): string | undefined =>
  average !== undefined && (v === undefined || isZeroQuantity(v)) ? undefined : (v ?? '0');

function specSourceIn(key: Source, s: J, what: string): J {
  switch (key) {
    case 'object': {
      const average = qty(field(s, 'averageValue'), `${what}.averageValue`);
      const v = besideAverage(qty(field(s, 'targetValue'), `${what}.targetValue`), average);
      return {
        describedObject: refIn(field(s, 'target'), `${what}.target`),
        target: value(average === undefined ? 'Value' : 'AverageValue', { value: v, averageValue: average }),
        metric: identifier(s, 'selector', what),
      };
    }
    case 'pods':
      return {
        metric: identifier(s, 'selector', what),
        target: value('AverageValue', { averageValue: qty(field(s, 'targetAverageValue'), `${what}.targetAverageValue`) ?? '0' }),
      };
    case 'resource':
    case 'containerResource': {
      const utilization = int(field(s, 'targetAverageUtilization'), `${what}.targetAverageUtilization`);
      const average = qty(field(s, 'targetAverageValue'), `${what}.targetAverageValue`);
      const out: J = {
        name: str(field(s, 'name'), `${what}.name`),
        target: value(utilization === undefined ? 'AverageValue' : 'Utilization', { averageValue: average, averageUtilization: utilization }),
      };
      if (key === 'containerResource') out['container'] = str(field(s, 'container'), `${what}.container`);
      return out;
    }
    case 'external': {
      const v = qty(field(s, 'targetValue'), `${what}.targetValue`);
      const average = qty(field(s, 'targetAverageValue'), `${what}.targetAverageValue`);
      return { metric: identifier(s, 'metricSelector', what), target: value(v === undefined ? 'AverageValue' : 'Value', { value: v, averageValue: average }) };
    }
  }
}

function statusSourceIn(key: Source, s: J, what: string): J {
  switch (key) {
    case 'object': {
      const average = qty(field(s, 'averageValue'), `${what}.averageValue`);
      const v = besideAverage(qty(field(s, 'currentValue'), `${what}.currentValue`), average);
      return { metric: identifier(s, 'selector', what), current: value(undefined, { value: v, averageValue: average }), describedObject: refIn(field(s, 'target'), `${what}.target`) };
    }
    case 'pods':
      return { metric: identifier(s, 'selector', what), current: value(undefined, { averageValue: qty(field(s, 'currentAverageValue'), `${what}.currentAverageValue`) ?? '0' }) };
    case 'resource':
    case 'containerResource': {
      const out: J = {
        name: str(field(s, 'name'), `${what}.name`),
        current: value(undefined, {
          averageValue: qty(field(s, 'currentAverageValue'), `${what}.currentAverageValue`) ?? '0',
          averageUtilization: int(field(s, 'currentAverageUtilization'), `${what}.currentAverageUtilization`),
        }),
      };
      if (key === 'containerResource') out['container'] = str(field(s, 'container'), `${what}.container`);
      return out;
    }
    case 'external': {
      const average = qty(field(s, 'currentAverageValue'), `${what}.currentAverageValue`);
      const v = besideAverage(qty(field(s, 'currentValue'), `${what}.currentValue`), average);
      return { metric: identifier(s, 'metricSelector', what), current: value(undefined, { value: v, averageValue: average }) };
    }
  }
}

function listIn(v: unknown, what: string, one: (key: Source, s: J, what: string) => J): J[] {
  return (arr(v, what) ?? []).map((item, i) => {
    const m = obj(item, `${what}[${i}]`) ?? {};
    const out: J = { type: str(field(m, 'type'), `${what}[${i}].type`) };
    for (const key of sources) {
      const s = obj(field(m, key), `${what}[${i}].${key}`);
      if (s) out[key] = one(key, s, `${what}[${i}].${key}`);
    }
    return out;
  });
}

/** The `.../metrics` annotation's JSON ([]v1.MetricSpec) as v2 MetricSpecs; throws GoJsonTypeError. */
export const metricSpecsFromV1 = (v: unknown): J[] => listIn(v, '[]v1.MetricSpec', specSourceIn);

/** The `.../current-metrics` annotation's JSON ([]v1.MetricStatus) as v2 MetricStatuses; throws GoJsonTypeError. */
export const metricStatusesFromV1 = (v: unknown): J[] => listIn(v, '[]v1.MetricStatus', statusSourceIn);

/**
 * Custom resource conversion between a CRD's versions, as upstream's apiextensions-apiserver
 * pkg/apiserver/conversion (converter.go, nop_converter.go, webhook_converter.go):
 * - both strategies first check the versions: the target and every object's apiVersion must be
 *   one of the CRD's (`request to convert CR to an invalid group/version: …`, `… from an invalid
 *   group/version: …`, for a list `request to convert CR list failed, list index <i> has invalid
 *   group/version: …`).
 * - None rewrites apiVersion only (upstream's nopConverter).
 * - Webhook sends one ConversionReview (./conversion-review.ts) holding every object not already
 *   at the target (a list converts in one request), through the admission webhooks' HTTPS client
 *   (src/apiserver/admission/webhook/client.ts: `url` or `service` with TLS name
 *   `<name>.<namespace>.svc`, port 443 by default, caBundle, `?timeout=30s`, bounded answer).
 *   Objects already at the target and objects holding only apiVersion and kind are not sent.
 *   Every failure is an InternalError (500) `Internal error occurred: conversion webhook for
 *   <group>/<version>, Kind=<Kind> failed: …` naming the source version, as the API server
 *   answers upstream.
 *
 * Objects passed in are never changed, so callers need not copy them first. A webhook's converted
 * objects share nothing with the inputs; None's share every field but apiVersion with theirs.
 * Calls are independent: concurrent conversions each make their own request.
 *
 * Departures: the webhook timeout is upstream's fixed 30 s (ConverterDeps.timeoutSeconds exists
 * for tests); the answer is bounded at 3 MiB per object sent (upstream reads it unbounded);
 * no conversion metrics or tracing spans; an unusable client configuration (no url/service, bad
 * URL, caBundle not PEM) fails each conversion instead of failing to serve the CRD.
 */
import { randomUUID } from 'node:crypto';
import type { CustomResourceDefinition } from '../api/index.ts';
import { internalError } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';
import { answerError, maxResponseBytes, post, targetFor } from '../apiserver/admission/webhook/client.ts';
import type { HookClient } from '../apiserver/admission/webhook/source.ts';
import { convertedIdentityError, convertedObjectsOf, decodeConverted, gvString, negotiateReviewVersion, restoreObjectMeta, reviewRequest } from './conversion-review.ts';

/** Upstream's webhook request timeout (k8s.io/apiserver pkg/util/webhook: 30 s, body included). */
export const defaultWebhookTimeoutSeconds = 30;
/** The most of a webhook's answer read per object sent (the API server's request body limit). */
export const maxResponseBytesPerObject = maxResponseBytes;

type Address = { host: string; port: number };

export interface ConverterDeps {
  /**
   * A Service's address for the API server to dial (as the admission webhooks resolve it):
   * undefined (or a rejection/throw with the reason) when it cannot be reached. May answer
   * synchronously, so the admission webhooks' resolver can be passed as is.
   */
  resolveService(namespace: string, name: string, port: number): Promise<Address | undefined> | Address | undefined;
  /** The webhook's deadline (default defaultWebhookTimeoutSeconds); tests shorten it. */
  timeoutSeconds?: number;
}

export interface ConvertOptions {
  /**
   * Whether the objects are a list's items (default: more than one object). Only the wording of
   * errors depends on it, as upstream words list and single-object failures differently.
   */
  list?: boolean;
}

export interface Converter {
  /** Whether conversion may need a round trip (Webhook strategy). */
  readonly remote: boolean;
  /**
   * Converts objects (each of any served version) to `apiVersion` ('group/version'); objects
   * already at it are returned unchanged (the same object). Errors are StatusErrors with upstream's messages.
   */
  convert(objs: KubeObject[], apiVersion: string, opts?: ConvertOptions): Promise<KubeObject[]>;
}

/** Whether an object holds nothing but apiVersion and kind (upstream converts those without the webhook). */
function isEmptyObject(o: KubeObject): boolean {
  const keys = Object.keys(o);
  return keys.length === 2 && 'apiVersion' in o && 'kind' in o;
}

const withVersion = (o: KubeObject, apiVersion: string): KubeObject => (o.apiVersion === apiVersion ? o : { ...o, apiVersion });

const gvkString = (o: KubeObject, kindSuffix = ''): string => `${gvString(o.apiVersion ?? '')}, Kind=${o.kind ?? ''}${kindSuffix}`;

export function createConverter(crd: CustomResourceDefinition, deps: ConverterDeps): Converter {
  const group = crd.spec.group;
  const valid = new Set(crd.spec.versions.map((v) => `${group}/${v.name}`));
  const strategy = crd.spec.conversion?.strategy ?? 'None';
  const remote = strategy === 'Webhook';
  const webhook = remote ? webhookConversion(crd, deps) : undefined;

  const check = (objs: KubeObject[], apiVersion: string, list: boolean) => {
    if (!valid.has(apiVersion)) throw internalError(new Error(`request to convert CR to an invalid group/version: ${gvString(apiVersion)}`));
    for (let i = 0; i < objs.length; i++) {
      const from = objs[i]!.apiVersion ?? '';
      if (from === apiVersion || valid.has(from)) continue;
      throw internalError(new Error(list ? `request to convert CR list failed, list index ${i} has invalid group/version: ${gvString(from)}` : `request to convert CR from an invalid group/version: ${gvString(from)}`));
    }
  };

  return {
    remote,
    async convert(objs, apiVersion, opts) {
      const list = opts?.list ?? objs.length > 1;
      check(objs, apiVersion, list);
      if (strategy === 'None') return objs.map((o) => withVersion(o, apiVersion));
      if (!webhook) throw internalError(new Error(`unknown conversion strategy ${JSON.stringify(strategy)} for CRD ${crd.metadata.name ?? ''}`));
      return webhook(objs, apiVersion, list);
    },
  };
}

/** The Webhook strategy's conversion function for a CRD (client configuration read once). */
function webhookConversion(crd: CustomResourceDefinition, deps: ConverterDeps): (objs: KubeObject[], apiVersion: string, list: boolean) => Promise<KubeObject[]> {
  const conf = crd.spec.conversion?.webhook;
  const cc = conf?.clientConfig;
  const caBundle = cc?.caBundle ? Buffer.from(cc.caBundle, 'base64').toString('utf8') : '';
  const client: HookClient = { url: cc?.url, service: cc?.service, caPem: caBundle.trim() ? caBundle : undefined };
  const hookName = `conversion_webhook_for_${crd.metadata.name ?? ''}`;
  const version = negotiateReviewVersion(conf?.conversionReviewVersions);
  const timeoutSeconds = deps.timeoutSeconds ?? defaultWebhookTimeoutSeconds;

  return async (objs, apiVersion, list) => {
    const sent: number[] = [];
    for (let i = 0; i < objs.length; i++) if (objs[i]!.apiVersion !== apiVersion && !isEmptyObject(objs[i]!)) sent.push(i);
    const out = objs.map((o) => (isEmptyObject(o) ? withVersion(o, apiVersion) : o));
    if (sent.length === 0) return out;
    if (!version) throw internalError(new Error('no supported conversion review versions'));
    const first = objs[sent[0]!]!;
    const what = list ? gvkString(first, 'List') : gvkString(first);
    const fail = (reason: string) => internalError(new Error(`conversion webhook for ${what} ${reason}`));

    const uid = randomUUID();
    const toSend = sent.map((i) => objs[i]!);
    const body = reviewRequest(version, uid, apiVersion, toSend);

    let addr: Address | undefined;
    let resolveErr: unknown;
    if (client.service) {
      const { namespace, name } = client.service;
      try {
        addr = await deps.resolveService(namespace, name, client.service.port || 443);
      } catch (err) {
        resolveErr = err;
      }
    }
    let target;
    try {
      target = targetFor(client, {
        timeoutSeconds,
        resolveService: () => {
          if (resolveErr !== undefined) throw resolveErr;
          return addr;
        },
      });
    } catch (err) {
      const e = err as Error & { callingWebhook?: boolean };
      throw fail(`failed: ${e.callingWebhook ? `failed calling webhook ${JSON.stringify(hookName)}: ${e.message}` : e.message}`);
    }
    let answer;
    try {
      answer = await post(target, body, { timeoutMs: timeoutSeconds * 1000, maxBytes: maxResponseBytesPerObject * toSend.length });
    } catch (err) {
      throw fail(`failed: ${(err as Error).message}`);
    }
    const httpError = answerError(answer);
    if (httpError !== undefined) throw fail(`failed: ${httpError}`);
    let converted: unknown[];
    try {
      converted = convertedObjectsOf(answer.body.toString('utf8'), { version, uid });
    } catch (err) {
      throw fail(`failed: ${(err as Error).message}`);
    }
    if (converted.length !== toSend.length) throw fail(`returned ${converted.length} objects, expected ${toSend.length}`);

    const at = list ? (i: number) => `returned invalid converted object at index ${i}` : () => 'returned invalid object at index 0';
    for (let j = 0; j < sent.length; j++) {
      const original = toSend[j]!;
      let obj: KubeObject;
      try {
        obj = decodeConverted(converted[j]);
      } catch (err) {
        // Upstream returns a single object's decoding error unprefixed.
        throw list ? fail(`${at(j)}: ${(err as Error).message}`) : internalError(err);
      }
      const gotGV = gvString(obj.apiVersion ?? '');
      if (gotGV !== apiVersion) throw fail(`${at(j)}: invalid groupVersion (expected ${apiVersion}, received ${gotGV})`);
      if (obj.kind !== original.kind) throw fail(`${at(j)}: invalid kind (expected ${original.kind ?? ''}, received ${obj.kind ?? ''})`);
      const idErr = convertedIdentityError(original, obj);
      if (idErr) throw fail(list ? `${at(j)}: ${idErr}` : `returned invalid object: ${idErr}`);
      try {
        obj = restoreObjectMeta(original, obj);
      } catch (err) {
        const m = (err as Error).message;
        throw fail(list ? `returned invalid metadata in object at index ${j}: ${m}` : `returned invalid metadata: ${m}`);
      }
      out[sent[j]!] = obj;
    }
    return out;
  };
}

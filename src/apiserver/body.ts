/**
 * Request bodies: reading with a size limit and decoding by Content-Type (JSON, YAML,
 * Kubernetes protobuf) into a plain object; and the PATCH body types.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { parseDocument } from 'yaml';
import { badRequest, statusError } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';
import { decodeKubeProtobuf } from '../api/protobuf.ts';
import { duplicateJsonFields } from '../api/duplicates.ts';

export type Request = IncomingMessage | Http2ServerRequest;

/** Upstream's default maximum request body (3 MiB). */
export const maxBodyBytes = 3 * 1024 * 1024;

export async function readBody(req: Request, limit = maxBodyBytes): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw statusError('RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
}

/**
 * Keys repeated in a body, which decoding resolves to the last value: JSON repeats by path
 * (`json`), YAML repeats as upstream's YAML decoder words them (`yaml`: `line 12: key "paused"
 * already set in map`).
 */
export interface Duplicates {
  json: string[];
  yaml: string[];
}

/**
 * Decodes an object body. Throws 415 for unknown media types, 400 for malformed bodies.
 * With `dups`, repeated keys are collected into it (for fieldValidation).
 */
export function decodeObject(body: Buffer, contentType: string | undefined, dups?: Duplicates): KubeObject {
  const type = mediaType(contentType);
  let value: unknown;
  switch (type) {
    case 'application/json':
    case '':
      value = parseJson(body, dups);
      break;
    case 'application/yaml':
    case 'application/x-yaml':
    case 'text/yaml':
      value = parseYamlBody(body.toString('utf8'), dups);
      break;
    case 'application/vnd.kubernetes.protobuf':
      try {
        value = decodeKubeProtobuf(body);
      } catch (err) {
        throw badRequest(`the body of the request could not be decoded as protobuf: ${(err as Error).message}`);
      }
      break;
    default:
      throw statusError(
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`,
      );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('the body of the request must be a JSON object');
  }
  const obj = value as KubeObject;
  if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
  if (typeof obj.metadata !== 'object' || Array.isArray(obj.metadata)) throw badRequest('metadata must be an object');
  return obj;
}

export function parseJson(body: Buffer | string, dups?: Duplicates): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') throw badRequest('the body of the request was empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badRequest(`the body of the request was in an unknown format: ${(err as Error).message}`);
  }
  if (dups) dups.json.push(...duplicateJsonFields(text));
  return value;
}

/** A YAML body as a JSON value; repeated keys are collected into `dups` (the last one wins). */
export function parseYamlBody(text: string, dups?: Duplicates): unknown {
  const doc = parseDocument(text);
  for (const err of doc.errors) {
    if (err.code !== 'DUPLICATE_KEY') throw badRequest(`error converting YAML to JSON: ${err.message}`);
    if (dups) {
      const at = err.linePos?.[0];
      const line = at ? (text.split('\n', at.line)[at.line - 1] ?? '') : '';
      const key = /^\s*(?:-\s+)?["']?([^"':]+)["']?\s*:/.exec(line.slice(Math.max(0, (at?.col ?? 1) - 1)))?.[1] ?? '';
      dups.yaml.push(`line ${at?.line ?? 0}: key ${JSON.stringify(key)} already set in map`);
    }
  }
  try {
    return doc.toJS();
  } catch (err) {
    throw badRequest(`error converting YAML to JSON: ${(err as Error).message}`);
  }
}

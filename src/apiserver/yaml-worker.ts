/**
 * Worker thread entry for YAML bodies (see body.ts `decodeYamlOffThread`): decodes one document
 * per message with `decodeYaml` and posts the result back. Runs with a large stack so that
 * nesting up to upstream's limits parses; a crash or an exceeded heap ends only this worker.
 */
import { parentPort } from 'node:worker_threads';
import { decodeYaml, type YamlResult } from './yamldecode.ts';

parentPort!.on('message', (m: { id: number; text: string }) => {
  let result: YamlResult;
  try {
    result = decodeYaml(m.text);
  } catch (err) {
    result = { ok: false, stage: 'yaml', message: `yaml: ${(err as Error).message}` };
  }
  parentPort!.postMessage({ id: m.id, result });
});

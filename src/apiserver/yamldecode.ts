/**
 * YAML request bodies to JSON, with upstream's bounds (sigs.k8s.io/yaml over go-yaml v2):
 * - `yamlDepthError`: a linear pre-scan that rejects nesting past go-yaml's limits (flow level
 *   `maxYamlFlowLevel`, block indentation stack `maxYamlIndents`) before any parser runs. It counts
 *   conservatively: where it cannot tell text from structure it skips, so it may miss nesting (the
 *   decoded value's depth is checked again) but never rejects what go-yaml accepts.
 * - `decodeYaml`: parses one document (the `yaml` package, duplicate keys collected as go-yaml's
 *   strict mode words them), bounds alias expansion as go-yaml does ("document contains excessive
 *   aliasing"), applies the JSON depth limit to the result, and returns it as JSON text.
 * `decodeYaml` recurses and costs far more per byte than JSON.parse: body.ts runs it in a worker
 * with a large stack, off the event loop.
 */
import { LineCounter, parseDocument, isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import { valueDepthError } from '../api/jsonscan.ts';

/** go-yaml `max_flow_level`: flow collections (`[`, `{`) nested 10,000 deep are accepted, 10,001 not. */
export const maxYamlFlowLevel = 10_000;
/** go-yaml `max_indents`: block collections nested 10,000 deep are accepted, 10,001 not. */
export const maxYamlIndents = 10_000;

/** go-yaml's alias ratio bounds (decode.go): below the low mark 99% of decodes may come from aliases. */
const aliasRatioRangeLow = 400_000;
const aliasRatioRangeHigh = 4_000_000;

function allowedAliasRatio(decodeCount: number): number {
  if (decodeCount <= aliasRatioRangeLow) return 0.99;
  if (decodeCount >= aliasRatioRangeHigh) return 0.1;
  return 0.99 - 0.89 * ((decodeCount - aliasRatioRangeLow) / (aliasRatioRangeHigh - aliasRatioRangeLow));
}

const exceeded = (max: number): string => `exceeded max depth of ${max}`;
/** go-yaml's position prefix: the 1-based line, omitted on the first line. */
const at = (line: number, msg: string): string => `yaml: ${line > 1 ? `line ${line}: ` : ''}${msg}`;

/**
 * The go-yaml error for nesting past its limits (`yaml: line 3: exceeded max depth of 10000`), or
 * undefined. One pass over the text, no allocation per character.
 */
export function yamlDepthError(text: string, maxFlow = maxYamlFlowLevel, maxIndents = maxYamlIndents): string | undefined {
  const n = text.length;
  let i = 0;
  let line = 1;
  let flow = 0;
  const indents: number[] = []; // columns of open block collections, increasing
  // A plain scalar that may continue on more indented lines: the indentation it must exceed.
  let plainIndent = -2;
  let blockScalarIndent = -2; // lines indented more than this are block scalar content
  while (i < n) {
    // ---- a new line (block context): indentation
    const lineStart = i;
    while (i < n && text.charCodeAt(i) === 32) i++;
    const col = i - lineStart;
    const c0 = text.charCodeAt(i);
    const blank = i >= n || c0 === 10 || c0 === 13 || c0 === 35; // empty or comment-only
    if (flow === 0 && !blank) {
      if (blockScalarIndent > -2 && col > blockScalarIndent) {
        i = skipLine(text, i);
        line++;
        continue;
      }
      blockScalarIndent = -2;
      if (plainIndent > -2 && col > plainIndent) {
        i = skipLine(text, i);
        line++;
        continue;
      }
      plainIndent = -2;
      while (indents.length && indents[indents.length - 1]! > col) indents.pop();
      if (col === 0 && c0 === 37 /* % */) {
        i = skipLine(text, i); // a directive
        line++;
        continue;
      }
      if (col === 0 && (text.startsWith('---', i) || text.startsWith('...', i)) && isWsOrEnd(text.charCodeAt(i + 3))) {
        indents.length = 0; // a document marker: a new document may follow on this line
        i += 3;
      }
    }
    // ---- tokens on this line
    let nodeStart = flow === 0; // at a place where a block node may begin
    let lineIndent = col;
    for (;;) {
      if (i >= n) break;
      const c = text.charCodeAt(i);
      if (c === 10) {
        i++;
        line++;
        break;
      }
      if (c === 32 || c === 9 || c === 13) {
        i++;
        continue;
      }
      if (c === 35 /* # */ && (i === 0 || isWs(text.charCodeAt(i - 1)))) {
        i = skipLine(text, i);
        line++;
        break;
      }
      if (c === 39 || c === 34) {
        // a quoted scalar (conservatively: any quote where a token may begin); may span lines
        const q = c;
        i++;
        while (i < n) {
          const d = text.charCodeAt(i);
          if (d === 10) line++;
          if (q === 34 && d === 92) i += 2;
          else if (d === q) {
            if (q === 39 && text.charCodeAt(i + 1) === 39) i += 2;
            else break;
          } else i++;
        }
        i++;
        nodeStart = false;
        continue;
      }
      if (flow > 0) {
        if (c === 91 || c === 123) {
          if (++flow > maxFlow) return at(line, exceeded(maxFlow));
        } else if (c === 93 || c === 125) flow--;
        i++;
        if (flow === 0) nodeStart = false;
        continue;
      }
      // ---- block context
      if (nodeStart && (c === 91 || c === 123)) {
        flow = 1;
        i++;
        continue;
      }
      if (nodeStart && (c === 45 || c === 63) && isWsOrEnd(text.charCodeAt(i + 1))) {
        // `- ` a sequence entry / `? ` a complex key: a block collection at this column
        const column = i - lineStart;
        if (!indents.length || indents[indents.length - 1]! < column) {
          indents.push(column);
          if (indents.length > maxIndents) return at(line, exceeded(maxIndents));
        }
        lineIndent = column;
        i++;
        continue;
      }
      if (nodeStart && (c === 124 || c === 62)) {
        // `|` or `>`: a block scalar; its content is the more indented lines that follow
        blockScalarIndent = lineIndent;
        i = skipLine(text, i);
        line++;
        break;
      }
      if (nodeStart && (c === 38 || c === 33)) {
        // an anchor or a tag: the node follows
        while (i < n && !isWsOrEnd(text.charCodeAt(i))) i++;
        continue;
      }
      if (c === 58 && isWsOrEnd(text.charCodeAt(i + 1))) {
        // `: ` ends a mapping key that began at the start of this node
        i++;
        nodeStart = true;
        continue;
      }
      // plain text: a key (if `: ` follows on this line) or a scalar
      const keyColumn = i - lineStart;
      const end = plainEnd(text, i);
      if (text.charCodeAt(end) === 58 && isWsOrEnd(text.charCodeAt(end + 1))) {
        if (nodeStart && (!indents.length || indents[indents.length - 1]! < keyColumn)) {
          indents.push(keyColumn);
          if (indents.length > maxIndents) return at(line, exceeded(maxIndents));
        }
        lineIndent = keyColumn;
        i = end;
        continue;
      }
      // a plain scalar value: more indented lines continue it
      plainIndent = nodeStart && keyColumn === lineIndent ? lineIndent - 1 : lineIndent;
      i = end;
      nodeStart = false;
    }
  }
  return undefined;
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function isWsOrEnd(c: number): boolean {
  return Number.isNaN(c) || isWs(c);
}

function skipLine(text: string, i: number): number {
  const j = text.indexOf('\n', i);
  return j < 0 ? text.length : j + 1;
}

/** End of plain text on this line: at `: `, ` #` or the line end. */
function plainEnd(text: string, i: number): number {
  const n = text.length;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
    if (c === 58 && isWsOrEnd(text.charCodeAt(i + 1))) return i;
    if (c === 35 && isWs(text.charCodeAt(i - 1))) return i;
  }
  return n;
}

/**
 * A decoded document, or the error: `stage: 'yaml'` errors are go-yaml's (`yaml: ...`), `stage:
 * 'json'` errors are those of the JSON decode that follows upstream's YAML-to-JSON conversion.
 */
export type YamlResult = { ok: true; json: string; duplicates: string[] } | { ok: false; stage: 'yaml' | 'json'; message: string };

/**
 * Decodes one YAML document to JSON text. Errors read as upstream's (without the
 * `error converting YAML to JSON: ` or `json parse error: ` context, which callers add); `duplicates` lists
 * repeated keys as `line 12: key "paused" already set in map` (the last value wins).
 */
export function decodeYaml(text: string): YamlResult {
  const depth = yamlDepthError(text);
  if (depth) return { ok: false, stage: 'yaml', message: depth };
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) return { ok: false, stage: 'yaml', message: `yaml: ${doc.errors[0]!.message.split('\n')[0]}` };
  const duplicates: string[] = [];
  const aliasError = checkAliasesAndDuplicates(doc, lines, duplicates);
  if (aliasError) return { ok: false, stage: 'yaml', message: aliasError };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: -1 });
  } catch (err) {
    return { ok: false, stage: 'yaml', message: `yaml: ${(err as Error).message}` };
  }
  const tooDeep = valueDepthError(value);
  if (tooDeep) return { ok: false, stage: 'json', message: tooDeep };
  return { ok: true, json: JSON.stringify(value ?? null), duplicates };
}

/**
 * Walks the document in order as go-yaml's decoder does, counting decodes and the share that
 * comes from alias expansion; returns go-yaml's error when aliases expand too much. Also collects
 * repeated mapping keys.
 */
function checkAliasesAndDuplicates(doc: Document, lines: LineCounter, duplicates: string[]): string | undefined {
  const sizes = new Map<Node, number>();
  const resolving = new Set<Node>();
  const sizeOf = (node: unknown): number => {
    if (!node || typeof node !== 'object') return 1;
    const known = sizes.get(node as Node);
    if (known !== undefined) return known;
    let s = 1;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) return 1;
      if (resolving.has(target)) throw new Error(`anchor '${node.source}' value contains itself`);
      resolving.add(target);
      s += sizeOf(target);
      resolving.delete(target);
    } else if (isMap(node) || isSeq(node)) {
      for (const it of node.items) s += isPair(it) ? sizeOf(it.key) + sizeOf(it.value) : sizeOf(it);
    }
    sizes.set(node as Node, s);
    return s;
  };
  let decodes = 1; // the document
  let aliased = 0;
  const excessive = (): boolean => aliased > 100 && decodes > 1000 && aliased / decodes > allowedAliasRatio(decodes);
  const visit = (node: unknown): boolean => {
    decodes++;
    if (excessive()) return false;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (target) {
        const s = sizeOf(target);
        decodes += s;
        aliased += s;
        if (excessive()) return false;
      }
      return true;
    }
    if (isMap(node)) {
      let seen: Set<unknown> | undefined;
      for (const it of node.items) {
        const key = isPair(it) ? it.key : undefined;
        if (isScalar(key)) {
          seen ??= new Set();
          if (seen.has(key.value)) {
            const pos = key.range ? lines.linePos(key.range[0]).line : 0;
            duplicates.push(`line ${pos}: key ${JSON.stringify(String(key.value))} already set in map`);
          } else seen.add(key.value);
        }
        if (!visit(key) || !visit(isPair(it) ? it.value : undefined)) return false;
      }
    } else if (isSeq(node)) {
      for (const it of node.items) if (!visit(it)) return false;
    }
    return true;
  };
  try {
    if (!visit(doc.contents)) return 'yaml: document contains excessive aliasing';
  } catch (err) {
    return `yaml: ${(err as Error).message}`;
  }
  return undefined;
}

/**
 * Watch streams: newline-delimited watch events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR)
 * served from the resource's watch cache, with upstream's resourceVersion semantics,
 * selectors (an object leaving the selection is reported as DELETED, entering as ADDED),
 * bookmarks, sendInitialEvents, and timeoutSeconds. Table output gives one Table per event.
 */
import type { HandlerContext } from './handlers.ts';
import type { OutputFormat } from './respond.ts';
import type { KubeObject } from '../api/types.ts';
import { badRequest, isStatusError } from '../api/errors.ts';
import { parseRv } from './rest.ts';
import { buildTable, partialObjectMetadata, tableOf, type IncludeObject } from './tables.ts';
import type { CacheEvent } from './watchcache.ts';
import { stringify as toYaml } from 'yaml';

const bookmarkIntervalMs = 60_000;
const defaultTimeoutSeconds = 1800;

export async function watchResponse(ctx: HandlerContext, format: OutputFormat, convert: (o: KubeObject) => KubeObject): Promise<void> {
  const q = ctx.query;
  const rvParam = q.get('resourceVersion') ?? '';
  const match = q.get('resourceVersionMatch') ?? '';
  const sendInitialParam = q.get('sendInitialEvents');
  const bookmarks = q.get('allowWatchBookmarks') === 'true';
  if (sendInitialParam !== null) {
    if (match !== 'NotOlderThan') throw badRequest('sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan');
    if (sendInitialParam === 'true' && !bookmarks) throw badRequest('allowWatchBookmarks must be true when sendInitialEvents is true');
  } else if (match) {
    throw badRequest('resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
  }
  const sendInitial = sendInitialParam === 'true' || (sendInitialParam === null && (rvParam === '' || rvParam === '0'));
  const fromRv = rvParam === '' || rvParam === '0' ? 0 : parseRv(rvParam);
  const filter = ctx.storage.filter(q.get('labelSelector') ?? undefined, q.get('fieldSelector') ?? undefined);
  const timeoutParam = q.get('timeoutSeconds');
  const timeoutSeconds = timeoutParam ? Number(timeoutParam) : defaultTimeoutSeconds;
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) throw badRequest(`timeoutSeconds: invalid value ${JSON.stringify(timeoutParam)}`);
  const ns = ctx.info.namespace;
  const nsPrefix = ns && ctx.served.def.namespaced ? `${ctx.storage.prefix}${ns}/` : '';

  const { initial, watch, rv } = await ctx.storage.watch({
    fromRv: sendInitial && sendInitialParam !== null && fromRv > 0 ? fromRv : sendInitial ? 0 : fromRv,
    initial: sendInitial,
    consistent: sendInitial && rvParam === '',
  });

  const res = ctx.res;
  res.writeHead(200, { 'content-type': format.kind === 'yaml' ? 'application/yaml' : 'application/json', 'cache-control': 'no-cache' });
  if ('flushHeaders' in res && typeof res.flushHeaders === 'function') res.flushHeaders();

  const include: IncludeObject = (q.get('includeObject') as IncludeObject | null) ?? 'Metadata';
  const table = format.kind === 'table' ? tableOf(ctx.served.table) : null;
  let firstTable = true;
  const render = (type: string, obj: KubeObject): string => {
    let out: unknown = convert(obj);
    if (format.kind === 'table' && table) {
      out = buildTable(table, [out as KubeObject], { resourceVersion: obj.metadata.resourceVersion }, {
        include,
        version: format.version,
        now: Date.now(),
        noHeaders: !firstTable,
      });
      firstTable = false;
    } else if (format.kind === 'partial') {
      out = partialObjectMetadata(out as KubeObject, format.version);
    }
    if (format.kind === 'yaml') return `---\n${toYaml({ type, object: out })}`;
    return `{"type":"${type}","object":${JSON.stringify(out)}}\n`;
  };
  const bookmark = (rv: number, initialEnd = false): string => {
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (initialEnd) metadata['annotations'] = { 'k8s.io/initial-events-end': 'true' };
    return `{"type":"BOOKMARK","object":${JSON.stringify({ kind: ctx.served.def.kind, apiVersion: ctx.served.apiVersion, metadata })}}\n`;
  };

  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    watch.stop();
    clearTimeout(timer);
    clearInterval(bm);
    if (!res.writableEnded) res.end();
  };
  res.on('close', close);
  const timer = setTimeout(close, timeoutSeconds * 1000);
  let lastSentRv = rv;
  const bm = setInterval(() => {
    if (bookmarks && watch.rv > lastSentRv) {
      lastSentRv = watch.rv;
      res.write(bookmark(watch.rv));
    }
  }, bookmarkIntervalMs);

  const inScope = (key: string) => !nsPrefix || key.startsWith(nsPrefix);
  try {
    if (initial.length) {
      const chunks: string[] = [];
      for (const c of initial) {
        if (!inScope(c.key)) continue;
        if (filter && !filter(c.obj)) continue;
        chunks.push(render('ADDED', c.obj));
        if (chunks.length >= 500) res.write(chunks.splice(0).join(''));
      }
      if (chunks.length) res.write(chunks.join(''));
    }
    if (sendInitialParam === 'true') res.write(bookmark(rv, true));
    for await (const batch of watch) {
      if (closed) break;
      const out: string[] = [];
      for (const ev of batch) {
        if (!inScope(ev.object.key)) continue;
        const line = renderEvent(ev, filter, render);
        if (line) out.push(line);
      }
      if (out.length) {
        res.write(out.join(''));
        lastSentRv = Math.max(lastSentRv, batch[batch.length - 1]!.rv);
      }
    }
    if (!closed && watch.endReason) {
      const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `watch ended: ${watch.endReason}`, reason: 'Expired', code: 410 };
      res.write(`{"type":"ERROR","object":${JSON.stringify(status)}}\n`);
    }
  } catch (err) {
    if (!closed && isStatusError(err)) res.write(`{"type":"ERROR","object":${JSON.stringify(err.status)}}\n`);
  } finally {
    close();
  }
}

function renderEvent(
  ev: CacheEvent,
  filter: ((o: KubeObject) => boolean) | null,
  render: (type: string, obj: KubeObject) => string,
): string | null {
  if (!filter) return render(ev.type, ev.object.obj);
  const cur = filter(ev.object.obj);
  if (ev.type === 'ADDED') return cur ? render('ADDED', ev.object.obj) : null;
  if (ev.type === 'DELETED') return ev.prev && filter(ev.prev.obj) ? render('DELETED', ev.object.obj) : null;
  const was = ev.prev ? filter(ev.prev.obj) : false;
  if (cur && was) return render('MODIFIED', ev.object.obj);
  if (cur && !was) return render('ADDED', ev.object.obj);
  if (!cur && was) return render('DELETED', ev.object.obj);
  return null;
}

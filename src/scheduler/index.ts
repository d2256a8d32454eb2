/**
 * Runs the scheduler while this process holds the `kube-system/kube-scheduler` Lease (upstream
 * defaults 15 s / 10 s / 2 s), on its own informers or on informers shared with the rest of the
 * process; losing the lease stops it (its event handlers are removed) until it is won again.
 */
import { EventRecorder, InformerFactory, LeaderElector, type RestClient } from '../client/index.ts';
import { startScheduler, type SchedulerOptions } from './scheduler.ts';

export interface RunSchedulerOptions extends SchedulerOptions {
  client: RestClient;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log?: (msg: string) => void;
  /**
   * Informers to read from, shared with other components of the process (the caller starts and
   * stops them): one cache of pods and nodes instead of two. Default: the scheduler's own, on
   * `client`, started while it leads. Writes always go through `client`.
   */
  informers?: InformerFactory;
}

export async function runScheduler(opts: RunSchedulerOptions, signal: AbortSignal): Promise<void> {
  const log = opts.log ?? (() => {});
  while (!signal.aborted) {
    let running: Promise<void> = Promise.resolve();
    const elector = new LeaderElector({
      client: opts.client,
      namespace: 'kube-system',
      name: 'kube-scheduler',
      identity: opts.identity,
      leaseDurationMs: opts.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs,
      log,
      onStartedLeading: (leading) => {
        running = (async () => {
          const own = !opts.informers;
          const informers = opts.informers ?? new InformerFactory(opts.client, { log });
          // Events name the profile's schedulerName as their source, as upstream.
          const recorders = new Map<string, EventRecorder>();
          const recorderFor = (name: string) => {
            let r = recorders.get(name);
            if (!r) recorders.set(name, (r = new EventRecorder(opts.client, { component: name })));
            return r;
          };
          const recorder = recorderFor('default-scheduler');
          startScheduler({ client: opts.client, informers, recorder, recorderFor, signal: leading, log }, opts);
          if (own) informers.start(leading);
          log('scheduler: started');
          await new Promise<void>((resolve) => (leading.aborted ? resolve() : leading.addEventListener('abort', () => resolve(), { once: true })));
          if (own) await informers.stopped();
          await Promise.all([...recorders.values()].map((r) => r.close()));
        })();
      },
    });
    await elector.run(signal);
    await running;
  }
}

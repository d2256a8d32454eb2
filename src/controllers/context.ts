/**
 * What every controller gets from the controller manager: the API client (its own identity),
 * the informer factory shared by all controllers of the process (each resource watched once),
 * an event recorder per component, the abort signal that ends its run (leadership lost or
 * shutdown), and a logger. A controller's start function registers its informers and
 * handlers and runs its workers until the signal aborts; it must not block.
 */
import type { InformerFactory, Recorder, RestClient } from '../client/index.ts';

export interface ControllerContext {
  client: RestClient;
  informers: InformerFactory;
  /** The recorder for a component name (`deployment-controller`, ...); one per name. */
  recorder(component: string): Recorder;
  signal: AbortSignal;
  log(msg: string): void;
}

/** Starts one controller: registers informers and handlers, starts workers, returns at once. */
export type ControllerStart = (ctx: ControllerContext) => void;

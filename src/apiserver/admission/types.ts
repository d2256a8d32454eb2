/**
 * The admission stage of the request pipeline: mutating plugins run in order and may change the
 * object; validating plugins run after schema validation and may only reject (by throwing a
 * StatusError). Built-in plugins and (later) webhooks implement the same interface.
 */
import type { ResourceDef, Operation } from '../../api/resource.ts';
import type { KubeObject, UserInfo } from '../../api/types.ts';

export interface AdmissionAttributes {
  operation: Operation;
  def: ResourceDef;
  /** The version the request was made in. */
  version: string;
  namespace: string;
  name: string;
  subresource: string;
  /** The new object (CREATE, UPDATE), in the storage version. Mutating plugins may change it. */
  object?: KubeObject;
  /** The existing object (UPDATE, DELETE). */
  oldObject?: KubeObject;
  user: UserInfo;
  dryRun: boolean;
  /** Warnings for the client (HTTP `Warning: 299 - "..."` headers); plugins append. */
  warnings?: string[];
  /** Audit annotations plugins add (`<plugin>/<key>` → value). */
  auditAnnotations?: Record<string, string>;
  /** The operation's options as upstream's AdmissionReview carries them (e.g. DeleteOptions on DELETE); absent: built from the operation. */
  options?: Record<string, unknown>;
}

export interface AdmissionPlugin {
  readonly name: string;
  /** Mutating phase; may change attrs.object in place. */
  admit?(attrs: AdmissionAttributes): void | Promise<void>;
  /** Validating phase: throw a StatusError to reject. */
  validate?(attrs: AdmissionAttributes): void | Promise<void>;
}

/** Runs a chain of plugins: all mutations in order, then all validations. */
export class AdmissionChain {
  readonly #plugins: AdmissionPlugin[];
  constructor(plugins: AdmissionPlugin[]) {
    this.#plugins = plugins;
  }
  // A plugin that answers at once (most do, for most requests) is not awaited: a write passes
  // every plugin twice, and each await is a turn of the microtask queue.
  async admit(attrs: AdmissionAttributes): Promise<void> {
    for (const p of this.#plugins) {
      const pending = p.admit?.(attrs);
      if (pending) await pending;
    }
  }
  async validate(attrs: AdmissionAttributes): Promise<void> {
    for (const p of this.#plugins) {
      const pending = p.validate?.(attrs);
      if (pending) await pending;
    }
  }
}

/** Resource declarations: to be written. */
import type { ResourceDef } from '../resource.ts';

export const resources: ResourceDef[] = [];

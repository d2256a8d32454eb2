/**
 * Every built-in resource, one file per API group (core v1 is split: pods and pod templates live
 * in core-workloads.ts beside their users in apps and batch). The order is discovery order.
 */
import type { ResourceDef } from '../resource.ts';
import { resources as core } from './core.ts';
import { resources as coreWorkloads } from './core-workloads.ts';
import { resources as apps } from './apps.ts';
import { resources as batch } from './batch.ts';
import { resources as autoscaling } from './autoscaling.ts';
import { resources as networking } from './networking.ts';
import { resources as rbac } from './rbac.ts';
import { resources as storage } from './storage.ts';
import { resources as coordination } from './coordination.ts';
import { resources as discovery } from './discovery.ts';
import { resources as policy } from './policy.ts';
import { resources as scheduling } from './scheduling.ts';
import { resources as node } from './node.ts';
import { resources as admissionregistration } from './admissionregistration.ts';
import { resources as apiextensions } from './apiextensions.ts';
import { resources as events } from './events.ts';
import { resources as certificates } from './certificates.ts';
import { resources as authentication } from './authentication.ts';
import { resources as authorization } from './authorization.ts';
import { resources as apiregistration } from './apiregistration.ts';

export const builtinResources: readonly ResourceDef[] = [
  ...core,
  ...coreWorkloads,
  ...apps,
  ...events,
  ...authentication,
  ...authorization,
  ...autoscaling,
  ...batch,
  ...certificates,
  ...networking,
  ...policy,
  ...rbac,
  ...storage,
  ...admissionregistration,
  ...apiextensions,
  ...apiregistration,
  ...scheduling,
  ...coordination,
  ...node,
  ...discovery,
];

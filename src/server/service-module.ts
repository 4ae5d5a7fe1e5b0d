/**
 * @module
 * Built-in services as modules the author opts into (./services/<name>/module.ts): each
 * brings its SDL (which stands alone on veilgraph's root types and the SDL of the services it
 * requires), its resolvers and its periodic clean-up. `resolveServices` refuses, with
 * CONFIG_INVALID, a set that cannot work: a service without one it requires, the same
 * service twice, and no way to know the viewer (neither signIn() nor `authenticate`).
 */
import type { IResolvers } from '@graphql-tools/utils';
import type { GatewayServices } from './context.js';
import { configInvalid } from './errors.js';
import type { UserKeyRow } from './storage/store.js';

export type ServiceName = 'signIn' | 'directory' | 'sharing' | 'messaging' | 'backups' | 'debugView';

/** A built-in service: pass it in `createVeilgraph({ services })`. Its fields are veilgraph's own. */
export interface ServiceModule {
  readonly name: ServiceName;
  /** @internal Its SDL documents. */
  readonly typeDefs: readonly string[];
  /** @internal */
  readonly resolvers: readonly IResolvers[];
  /** @internal The services it needs besides itself. */
  readonly requires: readonly ServiceName[];
  /** @internal Deletes what expired (every minute). */
  readonly purge?: (services: GatewayServices, now: Date) => Promise<unknown>;
  /** @internal After a user's identity keys moved to a new version (committed). */
  readonly onIdentityRotated?: (services: GatewayServices, stored: UserKeyRow) => Promise<void>;
}

/** The factory call that adds a service, for messages. */
function call(name: ServiceName): string {
  return `${name}()`;
}

/** Checks a set of services (module comment) and returns it in the given order. */
export function resolveServices(services: readonly ServiceModule[], authenticate: boolean): readonly ServiceModule[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const s of services) {
    if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || !Array.isArray(s.typeDefs)) {
      problems.push('services: each entry must be a built-in service (signIn(), directory(), sharing(), messaging(), backups(), debugView())');
      continue;
    }
    if (names.has(s.name)) problems.push(`services: ${call(s.name)} is listed twice; list each service once`);
    names.add(s.name);
  }
  for (const s of services) {
    for (const r of s.requires ?? []) {
      if (!names.has(r)) problems.push(`services: ${call(s.name)} requires ${call(r)}; add ${call(r)} to services`);
    }
  }
  if (!names.has('signIn') && !authenticate) {
    problems.push('no way to know the viewer: add signIn() to services (challenge-response sign-in with tokens), or pass authenticate(request) that returns the viewer of your own sign-in');
  }
  if (names.has('signIn') && authenticate) {
    problems.push('both signIn() and authenticate: the viewer would have two sources; take signIn()\'s tokens or your own authenticate, not both');
  }
  if (problems.length > 0) throw configInvalid(problems.join('\n'));
  return services;
}

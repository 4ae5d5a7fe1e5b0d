/**
 * @module
 * The reference app's own type as createVeilgraph takes it: Profile's SDL, resolvers and
 * TypeAdapter over the app's `ProfileStore`.
 */
import { readFileSync } from 'node:fs';
import type { IResolvers } from '@graphql-tools/utils';
import type { TypeAdapter } from '../../server/index.js';
import { profileAdapter } from './adapter.js';
import { createProfileResolvers } from './resolvers.js';
import type { ProfileStore } from './store.js';

/** ./profile.graphql */
export const PROFILE_SDL = readFileSync(new URL('./profile.graphql', import.meta.url), 'utf8');

export function profileType(store: ProfileStore): { typeDefs: string; resolvers: IResolvers; types: { Profile: TypeAdapter<object> } } {
  return { typeDefs: PROFILE_SDL, resolvers: createProfileResolvers(store) as IResolvers, types: { Profile: profileAdapter(store) } };
}

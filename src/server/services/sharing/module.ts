/**
 * @module
 * The sharing() service. Data keys of objects with SHARED fields and grants (READ, WRITE) with their wrapped keys
 * (docs/sharing.md, "Grants"; docs/privacy.md, "Data keys"). A type with SHARED fields needs
 * it. Requires directory() (grants are given to users by name, after checking their keys).
 */
import { readFileSync } from 'node:fs';
import type { ServiceModule } from '../../service-module.js';
import { createDataKeyResolvers } from './data-keys.js';
import { createSharingResolvers } from './sharing.js';

const sdl = (file: string): string => readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');

export function sharing(): ServiceModule {
  return {
    name: 'sharing',
    typeDefs: [sdl('keys.graphql'), sdl('sharing.graphql')],
    resolvers: [createDataKeyResolvers(), createSharingResolvers()],
    requires: ['directory'],
  };
}

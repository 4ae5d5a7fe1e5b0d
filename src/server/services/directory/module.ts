/**
 * @module
 * The directory() service: the key directory (every version of every user's public keys), user search, contacts and
 * their events (docs/sharing.md, "Key directory", "Contacts"). Requires signIn().
 */
import { readFileSync } from 'node:fs';
import type { ServiceModule } from '../../service-module.js';
import { contactResolvers } from './contacts.js';
import { createDirectoryResolvers } from './directory.js';
import { publishKeyChange, userEventResolvers } from './user-events.js';

const sdl = (file: string): string => readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');

export function directory(): ServiceModule {
  return {
    name: 'directory',
    typeDefs: [sdl('directory.graphql'), sdl('contacts.graphql'), sdl('events.graphql')],
    resolvers: [createDirectoryResolvers(), contactResolvers, userEventResolvers],
    requires: ['signIn'],
    // A user's contacts hear of their new key version (a hint: they re-fetch and verify it).
    onIdentityRotated: (services, stored) => publishKeyChange(services, stored.userId, stored.version),
  };
}

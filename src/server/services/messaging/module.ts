/**
 * @module
 * The messaging() service. Conversations and end-to-end encrypted messages with epoch keys, receipts, disappearing
 * messages and live delivery (docs/messaging.md). Requires directory().
 */
import { readFileSync } from 'node:fs';
import type { ServiceModule } from '../../service-module.js';
import { messagingResolvers } from './messaging.js';

const sdl = (file: string): string => readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');

export function messaging(): ServiceModule {
  return {
    name: 'messaging',
    typeDefs: [sdl('messaging.graphql')],
    resolvers: [messagingResolvers],
    requires: ['directory'],
    // Disappearing messages: deleted once expired (clients already hide them at expiresAt).
    purge: (services, now) => services.store.purgeExpiredMessages(now),
  };
}

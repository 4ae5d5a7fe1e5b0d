/**
 * @module
 * The signIn() service. Sign-in: registration with proof of key possession, challenge-response login, short-lived
 * tokens, devices and the key bundle (docs/auth.md, docs/devices.md). Requires nothing.
 */
import { readFileSync } from 'node:fs';
import type { ServiceModule } from '../../service-module.js';
import { authResolvers } from './accounts.js';
import { createDeviceResolvers } from './devices.js';

const sdl = (file: string): string => readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');

export function signIn(): ServiceModule {
  return {
    name: 'signIn',
    typeDefs: [sdl('auth.graphql'), sdl('devices.graphql')],
    resolvers: [authResolvers, createDeviceResolvers()],
    requires: [],
    purge: async (services, now) => {
      await services.auth.purgeExpiredChallenges();
      await services.store.purgeExpiredDevices(now);
    },
  };
}

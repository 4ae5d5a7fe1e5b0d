/**
 * @module
 * The backups() service. Backups of the key bundle (a recovery phrase, a password), recovery onto a new device, and
 * account reset with an operator-issued code (docs/devices.md). Requires signIn().
 */
import { readFileSync } from 'node:fs';
import type { ServiceModule } from '../../service-module.js';
import { createBackupResolvers } from './backups.js';

const sdl = (file: string): string => readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');

export function backups(): ServiceModule {
  return {
    name: 'backups',
    typeDefs: [sdl('backups.graphql')],
    resolvers: [createBackupResolvers()],
    requires: ['signIn'],
    purge: (services, now) => services.store.purgeExpiredAccountResets(now),
  };
}

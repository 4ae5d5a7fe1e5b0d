/**
 * @module
 * The debugView() service. The "what the server sees" view: `storedObject(type, id)`, how the database holds one
 * object the viewer may read, for every type of the privacy manifest whose TypeAdapter can
 * `find` a row, and messages with messaging() (docs/debug-view.md). It answers only when
 * `createVeilgraph({ debugView })` is on (default: not in production). Requires nothing.
 */
import { readFileSync } from 'node:fs';
import type { ServiceModule } from '../../service-module.js';
import { debugResolvers } from './debug.js';

const sdl = (file: string): string => readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');

export function debugView(): ServiceModule {
  return {
    name: 'debugView',
    typeDefs: [sdl('debug.graphql')],
    resolvers: [debugResolvers],
    requires: [],
  };
}

/**
 * @module
 * veilgraph's root types (./veilgraph.graphql) and their one field, `_veilgraph`: the answer
 * to the client link's enforcement check. `enforced` is a constant because this resolver is
 * only ever part of a schema `createVeilgraph` built, which is always the enforced one
 * (./enforce.ts). Anyone may ask: the answer names no one, and a client asks before it has
 * signed in.
 */
import { readFileSync } from 'node:fs';
import { VEILGRAPH_PROTOCOL } from '../privacy/protocol.js';

export interface VeilgraphInfo {
  readonly protocol: number;
  readonly enforced: boolean;
}

const INFO: VeilgraphInfo = Object.freeze({ protocol: VEILGRAPH_PROTOCOL, enforced: true });

/** The root types' SDL: `type Query`, `type Mutation`, `type Subscription`, each with `_veilgraph`. */
export const ROOT_SDL = readFileSync(new URL('./veilgraph.graphql', import.meta.url), 'utf8');

export const rootResolvers = {
  Query: { _veilgraph: (): VeilgraphInfo => INFO },
  Mutation: { _veilgraph: (): VeilgraphInfo => INFO },
  Subscription: {
    _veilgraph: {
      subscribe: async function* () {
        yield { _veilgraph: INFO };
      },
    },
  },
};

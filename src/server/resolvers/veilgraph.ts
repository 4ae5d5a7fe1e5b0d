/**
 * @module
 * `Query._veilgraph` (schema/veilgraph.graphql): the answer to the client link's enforcement
 * check (docs/client.md, "The enforcement check"). `enforced` is a constant because only
 * `startGateway` installs this resolver, and it always serves the schema `enforcePrivacy`
 * made. Anyone may ask: the answer names no one, and a client asks before it has signed in.
 */
import { VEILGRAPH_PROTOCOL } from '../../privacy/protocol.js';

export interface VeilgraphInfo {
  readonly protocol: number;
  readonly enforced: boolean;
}

const INFO: VeilgraphInfo = Object.freeze({ protocol: VEILGRAPH_PROTOCOL, enforced: true });

export const veilgraphResolvers = {
  Query: {
    _veilgraph: (): VeilgraphInfo => INFO,
  },
};

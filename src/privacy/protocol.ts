/**
 * @module
 * The enforcement probe's contract, shared by the gateway (which answers it) and the client
 * link (which asks it before an operation with protected fields is sent): the root field
 * `_veilgraph` answers `{ protocol: VEILGRAPH_PROTOCOL, enforced: true }` on a server that
 * enforces the privacy levels. docs/graphql-api.md ("`Query._veilgraph`") and
 * docs/client.md ("The enforcement check") specify it.
 */

/** The version of veilgraph's wire protocol (Sealed values, reserved aliases, enforcement) this code speaks. */
export const VEILGRAPH_PROTOCOL = 1;

/** The root field a veilgraph server declares on Query; a server without veilgraph has none. */
export const PROBE_FIELD = '_veilgraph';

/**
 * @module
 * The shapes of the public API of `veilgraph/server` that the Prisma adapter plugs into,
 * as issue 15's contract fixes them, while `createVeilgraph` is being built elsewhere.
 * When it lands, this file goes: `TypeAdapter` comes from ../type-adapters.js, `VeilContext`
 * and `Veilgraph` from ../create.js (a `Veilgraph` has everything `VeilgraphWriter` names).
 */
import type { PrivacyManifest } from '../../privacy/manifest.js';
import type { GatewayContext } from '../context.js';

/** What resolvers receive from veilgraph: today the gateway's context (viewer, access, services). */
export type VeilContext = GatewayContext;

/** How veilgraph reaches the rows of one of the author's types (the contract's shape). */
export interface TypeAdapter<Row extends Record<string, unknown> = Record<string, unknown>> {
  owners(ids: readonly string[], ctx: VeilContext): Promise<ReadonlyMap<string, string>>;
  find?(id: string): Promise<Row | null>;
  reseal?: {
    stale(version: number, limit: number): Promise<readonly Row[]>;
    swap(id: string, expected: Uint8Array, next: Uint8Array, nextVersion: number): Promise<boolean>;
    count?(version: number): Promise<number>;
  };
}

/** The part of a `Veilgraph` the Prisma adapter uses: the manifest and the write path. */
export interface VeilgraphWriter {
  readonly manifest: PrivacyManifest;
  write(
    ctx: VeilContext,
    inputType: string,
    input: Record<string, unknown>,
    where: { readonly ownerId: string; readonly objectId: string },
    previous?: Record<string, unknown>,
  ): Promise<Record<string, unknown>>;
}

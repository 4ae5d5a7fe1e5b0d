/**
 * @module
 * Errors of the Prisma adapter that are the server's own mistakes, not the client's:
 *
 * - a data model that does not fit the SDL: veilgraph's `CONFIG_INVALID` (a VeilgraphError),
 *   at start, from `createVeilgraph`;
 * - a write the extension cannot check (`updateMany`, raw SQL, nested writes into an
 *   annotated model, a computed column in `data`): `UncheckedWriteError`, code
 *   `UNCHECKED_WRITE`. It is deliberately not a GraphQL error and carries no `extensions`, so
 *   a GraphQL server reports it as an internal error (its message only outside production):
 *   the client can do nothing about it, and it names the author's models.
 *
 * What the client can act on (FORBIDDEN, NOT_FOUND, BAD_SEALED_VALUE, …) is a GraphQL error
 * with its code.
 */
export { configInvalid } from '../../errors.js';

export const UNCHECKED_WRITE = 'UNCHECKED_WRITE';

export class UncheckedWriteError extends Error {
  override readonly name = 'UncheckedWriteError';
  readonly code = UNCHECKED_WRITE;
  constructor(message: string) {
    super(`veilgraph prisma: ${message}`);
  }
}

export function uncheckedWrite(message: string): UncheckedWriteError {
  return new UncheckedWriteError(message);
}

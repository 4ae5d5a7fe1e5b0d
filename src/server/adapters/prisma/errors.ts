/**
 * @module
 * Errors of the Prisma adapter that are the server's own mistakes, not the client's: a data
 * model that does not fit the SDL (`CONFIG_INVALID`, when the adapter is attached), and a
 * write the extension cannot check (`UNCHECKED_WRITE`: `updateMany`, raw SQL, nested writes
 * into an annotated model, a computed column in `data`). They are plain errors, not
 * GraphQL errors, so a GraphQL server reports them as internal errors (their message
 * outside production): the client can do nothing about them. What the client can act on
 * (FORBIDDEN, NOT_FOUND, BAD_SEALED_VALUE, …) is a GraphQL error with its code.
 */
export type PrismaAdapterErrorCode = 'CONFIG_INVALID' | 'UNCHECKED_WRITE';

export class PrismaAdapterError extends Error {
  override readonly name = 'VeilgraphError';
  constructor(
    readonly code: PrismaAdapterErrorCode,
    message: string,
  ) {
    super(`veilgraph prisma: ${message}`);
  }
}

export function configInvalid(message: string): PrismaAdapterError {
  return new PrismaAdapterError('CONFIG_INVALID', message);
}

export function uncheckedWrite(message: string): PrismaAdapterError {
  return new PrismaAdapterError('UNCHECKED_WRITE', message);
}

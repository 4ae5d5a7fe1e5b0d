/**
 * @module
 * Root resolvers throw our typed errors (AuthError, StorageError, CryptoError); this turns
 * them into GraphQL errors carrying their codes, once, instead of in every resolver.
 */
import { toGraphQLError } from './errors.js';

type Fn = (...args: never[]) => unknown;

export function withErrorCodes<T extends Record<string, Fn>>(resolvers: T): T {
  const out: Record<string, Fn> = {};
  for (const [name, fn] of Object.entries(resolvers)) {
    out[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (e) {
        throw toGraphQLError(e);
      }
    };
  }
  return out as T;
}

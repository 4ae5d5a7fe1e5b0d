/**
 * @module
 * Resolvers for accounts and login (protocol: docs/auth.md). The user a mutation acts for
 * is never taken from an argument: `register` creates one, `login` proves one.
 */
import { base64urlEncode } from '../../../crypto/base64url.js';
import type { RegisterInput } from './auth/service.js';
import type { SignInContext } from './store.js';
import type { DeviceRow, UserRow } from '../../storage/store.js';
import { withErrorCodes } from '../../resolver-errors.js';
import { viewerIndependent } from '../../viewer-independent.js';

/** A device as the `Device` resolvers take it; `current` set for the device of a session just issued. */
export type DeviceOut = DeviceRow & { readonly current?: boolean };

/** The `Session` of a sign-in: the token, the user, and the device it belongs to (null: identity key). */
export function sessionOut(s: { token: string; expiresAt: Date; user: UserRow; device: DeviceRow | null }) {
  return { token: s.token, expiresAt: s.expiresAt.toISOString(), user: s.user, device: s.device && ({ ...s.device, current: true } satisfies DeviceOut) };
}

export const authResolvers = {
  Query: withErrorCodes({
    me: (_: unknown, __: unknown, ctx: SignInContext) => (ctx.viewer ? ctx.store.findUserById(ctx.viewer.id) : null),
    user: (_: unknown, args: { username: string }, ctx: SignInContext) => ctx.store.findUserByUsername(args.username),
  }),
  Mutation: withErrorCodes({
    register: (_: unknown, args: { input: RegisterInput }, ctx: SignInContext) => ctx.auth.register(args.input, ctx.clientKey),
    challenge: async (_: unknown, args: { username: string; purpose: 'LOGIN' }, ctx: SignInContext) => {
      const c = await ctx.auth.challenge(args.username, args.purpose, ctx.clientKey);
      return { challenge: c.challenge, expiresAt: c.expiresAt.toISOString() };
    },
    login: async (_: unknown, args: { username: string; challenge: string; signature: string; device?: string | null }, ctx: SignInContext) =>
      sessionOut(await ctx.auth.login(args.username, args.challenge, args.signature, ctx.clientKey, args.device)),
  }),
  // A user's public row: the same whoever asks (../../viewer-independent.ts; a message's
  // `sender { id username }` is then shared by a conversation's subscribers).
  User: {
    id: { resolve: viewerIndependent((u: UserRow) => u.id) },
    username: { resolve: viewerIndependent((u: UserRow) => u.username) },
    signingKey: { resolve: viewerIndependent((u: UserRow) => base64urlEncode(u.signingKey)) },
    encryptionKey: { resolve: viewerIndependent((u: UserRow) => base64urlEncode(u.encryptionKey)) },
  },
};

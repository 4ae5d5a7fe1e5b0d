/**
 * @module
 * Resolvers for accounts and login (protocol: docs/auth.md). The user a mutation acts for
 * is never taken from an argument: `register` creates one, `login` proves one.
 */
import { base64urlEncode } from '../../../crypto/base64url.js';
import type { RegisterInput } from './auth/service.js';
import type { GatewayContext } from '../../context.js';
import type { DeviceRow, UserRow } from '../../storage/store.js';
import { withErrorCodes } from '../../resolver-errors.js';

/** A device as the `Device` resolvers take it; `current` set for the device of a session just issued. */
export type DeviceOut = DeviceRow & { readonly current?: boolean };

/** The `Session` of a sign-in: the token, the user, and the device it belongs to (null: identity key). */
export function sessionOut(s: { token: string; expiresAt: Date; user: UserRow; device: DeviceRow | null }) {
  return { token: s.token, expiresAt: s.expiresAt.toISOString(), user: s.user, device: s.device && ({ ...s.device, current: true } satisfies DeviceOut) };
}

export const authResolvers = {
  Query: withErrorCodes({
    me: (_: unknown, __: unknown, ctx: GatewayContext) => (ctx.viewer ? ctx.store.findUserById(ctx.viewer.id) : null),
    user: (_: unknown, args: { username: string }, ctx: GatewayContext) => ctx.store.findUserByUsername(args.username),
  }),
  Mutation: withErrorCodes({
    register: (_: unknown, args: { input: RegisterInput }, ctx: GatewayContext) => ctx.auth.register(args.input, ctx.clientKey),
    challenge: async (_: unknown, args: { username: string; purpose: 'LOGIN' }, ctx: GatewayContext) => {
      const c = await ctx.auth.challenge(args.username, args.purpose, ctx.clientKey);
      return { challenge: c.challenge, expiresAt: c.expiresAt.toISOString() };
    },
    login: async (_: unknown, args: { username: string; challenge: string; signature: string; device?: string | null }, ctx: GatewayContext) =>
      sessionOut(await ctx.auth.login(args.username, args.challenge, args.signature, ctx.clientKey, args.device)),
  }),
  User: {
    signingKey: (u: UserRow) => base64urlEncode(u.signingKey),
    encryptionKey: (u: UserRow) => base64urlEncode(u.encryptionKey),
    // Profiles are for signed-in users (as `profile`, `profiles`): null without a token.
    profile: (u: UserRow, _: unknown, ctx: GatewayContext) => (ctx.viewer ? ctx.store.findProfileByOwner(u.id) : null),
  },
};

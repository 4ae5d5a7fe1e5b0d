/**
 * @module
 * Resolvers for accounts and login (protocol: docs/auth.md). The user a mutation acts for
 * is never taken from an argument: `register` creates one, `login` proves one.
 */
import { base64urlEncode } from '../../crypto/base64url.js';
import type { GatewayContext } from '../context.js';
import type { UserRow } from '../storage/store.js';
import { withErrorCodes } from './wrap.js';

export const authResolvers = {
  Query: withErrorCodes({
    me: (_: unknown, __: unknown, ctx: GatewayContext) => (ctx.viewer ? ctx.store.findUserById(ctx.viewer.id) : null),
    user: (_: unknown, args: { username: string }, ctx: GatewayContext) => ctx.store.findUserByUsername(args.username),
  }),
  Mutation: withErrorCodes({
    register: (_: unknown, args: { input: { username: string; signingKey: string; encryptionKey: string; signature: string } }, ctx: GatewayContext) =>
      ctx.auth.register(args.input, ctx.clientKey),
    challenge: async (_: unknown, args: { username: string; purpose: 'LOGIN' }, ctx: GatewayContext) => {
      const c = await ctx.auth.challenge(args.username, args.purpose, ctx.clientKey);
      return { challenge: c.challenge, expiresAt: c.expiresAt.toISOString() };
    },
    login: async (_: unknown, args: { username: string; challenge: string; signature: string }, ctx: GatewayContext) => {
      const s = await ctx.auth.login(args.username, args.challenge, args.signature, ctx.clientKey);
      return { token: s.token, expiresAt: s.expiresAt.toISOString(), user: s.user };
    },
  }),
  User: {
    signingKey: (u: UserRow) => base64urlEncode(u.signingKey),
    encryptionKey: (u: UserRow) => base64urlEncode(u.encryptionKey),
    // Profiles are for signed-in users (as `profile`, `profiles`): null without a token.
    profile: (u: UserRow, _: unknown, ctx: GatewayContext) => (ctx.viewer ? ctx.store.findProfileByOwner(u.id) : null),
  },
};

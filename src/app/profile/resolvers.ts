/**
 * @module
 * Resolvers of the reference app's own type, `Profile` (./profile.graphql), on veilgraph's
 * public API only. They show the pattern for any annotated type: every write goes through
 * `veil.write` (PUBLIC columns as given; SERVER values sealed into one blob per row with
 * blind indexes; SHARED/PRIVATE envelopes checked to be sealed for this owner, object and
 * field, and stored as they are). Reads need nothing here: veilgraph's enforcement
 * authorises and decrypts per field. The rows live in the app's `ProfileStore`.
 */
import type { PrivacyLevel } from '../../privacy/index.js';
import { VeilgraphError, requireViewer, toGraphQLError, withErrorCodes, type UserRow, type VeilContext } from '../../server/index.js';
import type { ProfileRow, ProfileStore, ProfileUpdate } from './store.js';

const TYPE = 'Profile';

interface ProfileEvent {
  readonly id: string;
}
/** Client-chosen ids: long enough to be unguessable when random, URL-safe. */
const OBJECT_ID = /^[A-Za-z0-9_-]{16,64}$/;
const MAX_DISPLAY_NAME = 200;
const MAX_PAGE = 1000;
const MAX_UPDATE_ATTEMPTS = 5;

type ProfileFields = { displayName?: string | null; email?: string | null; phone?: string | null; bio?: string | null; diary?: string | null };

function notFound(): Error {
  return new VeilgraphError('NOT_FOUND', 'no such profile');
}

function forbidden(what: string): Error {
  return new VeilgraphError('FORBIDDEN', `not allowed to ${what}`);
}

function checkDisplayName(v: unknown): void {
  if (typeof v !== 'string' || v.trim().length === 0 || v.length > MAX_DISPLAY_NAME) {
    throw new VeilgraphError('BAD_USER_INPUT', `displayName must be 1–${MAX_DISPLAY_NAME} characters`, { field: 'displayName' });
  }
}

function inputLevel(ctx: VeilContext, inputType: string, field: string): PrivacyLevel {
  return ctx.veil.manifest.inputs[inputType]?.fields[field]?.level ?? 'PUBLIC';
}

async function ownProfileOrThrow(store: ProfileStore, ctx: VeilContext, id: string, what: string): Promise<ProfileRow> {
  const viewer = requireViewer(ctx);
  const row = await store.findProfileById(id);
  if (!row) throw notFound();
  if (row.ownerId !== viewer.id) throw forbidden(what);
  return row;
}

/** The pubsub topic of one profile's changes; the payload is `{ id }` (small: it may cross instances). */
export function profileTopic(id: string): string {
  return `${TYPE}:${id}`;
}

/** The resolvers of ./profile.graphql over `store`. */
export function createProfileResolvers(store: ProfileStore) {
  return {
    Query: withErrorCodes({
      myProfile: (_: unknown, __: unknown, ctx: VeilContext) => store.findProfileByOwner(requireViewer(ctx).id),
      profile: (_: unknown, args: { id: string }, ctx: VeilContext) => {
        requireViewer(ctx);
        return store.findProfileById(args.id);
      },
      profiles: async (_: unknown, args: { first: number; after?: string | null }, ctx: VeilContext) => {
        requireViewer(ctx);
        if (!Number.isInteger(args.first) || args.first < 1 || args.first > MAX_PAGE) {
          throw new VeilgraphError('BAD_USER_INPUT', `first must be 1–${MAX_PAGE}`);
        }
        const nodes = await store.listProfiles(args.first, args.after ?? undefined);
        await ctx.access.prefetch(TYPE, nodes.filter((n) => n.ownerId !== ctx.viewer?.id).map((n) => n.id));
        return { nodes, endCursor: nodes.length === args.first ? nodes[nodes.length - 1]!.id : null };
      },
      profileByEmail: async (_: unknown, args: { email: string }, ctx: VeilContext) => {
        const viewer = requireViewer(ctx);
        // A guessing budget per user, taken whatever the answer.
        await ctx.veil.rateLimit('emailLookup', viewer.id);
        // Only a profile whose email the viewer may read (owner or grantee); anyone else gets
        // null, so the lookup cannot confirm someone's address to a stranger. The work is the
        // same whatever the answer, so its timing cannot either: one HMAC, then one store call
        // that filters by owner and grant in the database — no per-row authorisation here
        // whose number would follow the number of profiles with that address
        // (test/server/profile-lookup.test.ts counts both).
        return store.findReadableProfileByEmailIndex(ctx.veil.blindIndex('Profile.email', args.email), viewer.id);
      },
    }),

    Mutation: withErrorCodes({
      createProfile: async (_: unknown, args: { input: ProfileFields & { id: string; displayName: string } }, ctx: VeilContext) => {
        const viewer = requireViewer(ctx);
        const { input } = args;
        if (!OBJECT_ID.test(input.id)) throw new VeilgraphError('BAD_USER_INPUT', 'id must be 16–64 base64url characters, chosen at random by the client', { field: 'id' });
        checkDisplayName(input.displayName);
        const columns = await ctx.veil.write(ctx, 'CreateProfileInput', input, { ownerId: viewer.id, objectId: input.id });
        return store.createProfile({
          serverSealed: null,
          serverKeyVersion: 0,
          emailIndex: null,
          bio: null,
          diary: null,
          ...(columns as Partial<ProfileRow>),
          id: input.id,
          ownerId: viewer.id,
          displayName: input.displayName,
        });
      },

      updateProfile: async (_: unknown, args: { id: string; input: ProfileFields }, ctx: VeilContext) => {
        requireViewer(ctx);
        const { input } = args;
        // Everything is checked before anything is written. Owner and id never change, so
        // authorization and location checks use a first read; the read-modify-write of the
        // SERVER blob then happens in one transaction so a concurrent update cannot be lost.
        const current = await store.findProfileById(args.id);
        if (!current) throw notFound();
        for (const [name, v] of Object.entries(input)) {
          if (v === undefined) continue;
          const level = inputLevel(ctx, 'UpdateProfileInput', name);
          if (!(await ctx.access.canWrite(TYPE, current.id, current.ownerId, level))) throw forbidden(`write Profile.${name}`);
        }
        if (input.displayName !== undefined) checkDisplayName(input.displayName);
        // The SERVER blob is read, merged and written back with compare-and-swap (no
        // transaction: see Store.updateProfileIfServerSealed); a concurrent write to the
        // same row makes us merge again from the newer blob.
        for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
          const row = attempt === 0 ? current : await store.findProfileById(args.id);
          if (!row) throw notFound();
          // Checks every envelope's location (before anything is written), seals the merged
          // SERVER values, computes the email blind index.
          const columns = await ctx.veil.write(ctx, 'UpdateProfileInput', input, { ownerId: row.ownerId, objectId: row.id }, row);
          const updated = await store.updateProfileIfServerSealed(row.id, row.serverSealed, columns as ProfileUpdate);
          if (updated === null) throw notFound();
          if (updated !== 'conflict') {
            // After the write returned: subscribers never see a change that was not stored.
            ctx.pubsub.publish(profileTopic(updated.id), { id: updated.id } satisfies ProfileEvent);
            return updated;
          }
        }
        throw new VeilgraphError('CONFLICT', 'the profile kept changing while it was being updated; try again');
      },

      deleteProfile: async (_: unknown, args: { id: string }, ctx: VeilContext) => {
        await ownProfileOrThrow(store, ctx, args.id, 'delete this profile');
        return store.deleteProfile(args.id);
      },

    }),

    Subscription: {
      profileUpdated: {
        // Any signed-in user may subscribe to an existing profile, as `profile(id)` lets them
        // read it: the enforcement layer authorises each field of each event for this
        // subscriber (PUBLIC fields for everyone, FORBIDDEN errors for the rest).
        subscribe: async (_: unknown, args: { id: string }, ctx: VeilContext) => {
          try {
            requireViewer(ctx);
            // Subscribe first, then check: a change stored between the two is not lost.
            const events = ctx.pubsub.subscribe<ProfileEvent>(profileTopic(args.id));
            const row = await store.findProfileById(args.id).catch(async (e: unknown) => {
              await events.return?.();
              throw e;
            });
            if (!row) {
              await events.return?.();
              throw notFound();
            }
            return events;
          } catch (e) {
            throw toGraphQLError(e);
          }
        },
        resolve: async (event: ProfileEvent) => {
          // The row as stored now (the event was published after the write committed).
          const row = await store.findProfileById(event.id);
          if (!row) throw notFound();
          return row;
        },
      },
    },

    Profile: {
      owner: (p: ProfileRow, _: unknown, ctx: VeilContext) => ctx.users.load(p.ownerId),
      createdAt: (p: ProfileRow) => p.createdAt.toISOString(),
      updatedAt: (p: ProfileRow) => p.updatedAt.toISOString(),
    },

    User: {
      // Profiles are for signed-in users (as `profile`, `profiles`): null without a token.
      profile: (u: UserRow, _: unknown, ctx: VeilContext) => (ctx.viewer ? store.findProfileByOwner(u.id) : null),
    },
  };
}

/**
 * @module
 * Contacts (src/server/services/directory/contacts.graphql; docs/sharing.md, "Contacts"): finding users by
 * username prefix, and the request → accept handshake between two users. Every operation
 * acts for the viewer of the verified token; the other user is named by username. The
 * store keeps one row per pair of users, so a request that meets the other side's pending
 * request accepts it, even when both are sent at the same moment (Store.requestContact).
 */
import { USERNAME_PATTERN } from '../sign-in/auth/validate.js';
import type { DirectoryContext } from './store.js';
import { requireViewer } from '../../context.js';
import { gatewayError } from '../../errors.js';
import type { ContactRow, UserRow } from '../../storage/store.js';
import { publishContactEvent } from './user-events.js';
import { withErrorCodes } from '../../resolver-errors.js';

/** Most users, contacts or requests per page. */
export const MAX_CONTACTS_PAGE = 100;
/** A prefix is at most a whole username long. */
const MAX_PREFIX_LENGTH = 32;
/** The shortest username USERNAME_PATTERN accepts. */
const MIN_USERNAME_LENGTH = 3;

type Direction = 'INCOMING' | 'OUTGOING';

interface PageArgs {
  first: number;
  after?: string | null;
}

/**
 * `prefix` unchanged when some valid username starts with it (1–32 characters by the
 * username rules, docs/auth.md §2); BAD_USER_INPUT otherwise. Padding a short prefix with
 * letters to the shortest username length turns "can start a username" into "is a
 * username", so the one USERNAME_PATTERN decides both.
 */
export function parseUsernamePrefix(prefix: string): string {
  if (prefix.length < 1 || prefix.length > MAX_PREFIX_LENGTH || !USERNAME_PATTERN.test(prefix.padEnd(MIN_USERNAME_LENGTH, 'a'))) {
    throw gatewayError(
      'BAD_USER_INPUT',
      `prefix must be 1–${MAX_PREFIX_LENGTH} characters of lowercase letters, digits, "_", "." or "-", starting with a letter`,
      { field: 'prefix' },
    );
  }
  return prefix;
}

function pageSize(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_CONTACTS_PAGE) {
    throw gatewayError('BAD_USER_INPUT', `first must be 1–${MAX_CONTACTS_PAGE}`, { field: 'first' });
  }
  return first;
}

/** The user at the other end of the viewer's row. */
function otherId(row: ContactRow, viewerId: string): string {
  return row.userLowId === viewerId ? row.userHighId : row.userLowId;
}

function contactNode(row: ContactRow, user: UserRow) {
  // A row is updated once only, when it is accepted: `updatedAt` is when they became contacts.
  return { user, since: row.updatedAt.toISOString(), requestedAt: row.createdAt.toISOString() };
}

function requestNode(row: ContactRow, user: UserRow, viewerId: string) {
  return { user, direction: (row.requesterId === viewerId ? 'OUTGOING' : 'INCOMING') satisfies Direction, createdAt: row.createdAt.toISOString() };
}

/** The user named `username`; NOT_FOUND when there is none. */
async function userNamed(ctx: DirectoryContext, username: string): Promise<UserRow> {
  const user = await ctx.store.findUserByUsername(username);
  if (!user) throw gatewayError('NOT_FOUND', 'no such user', { field: 'username' });
  return user;
}

/**
 * One page of the viewer's contacts or requests. One row more than asked says whether
 * another page follows; the cursor is the other user's id, the order the store lists in.
 */
async function contactPage<T>(
  ctx: DirectoryContext,
  which: 'ACCEPTED' | Direction,
  args: PageArgs,
  node: (row: ContactRow, user: UserRow, viewerId: string) => T,
): Promise<{ nodes: T[]; endCursor: string | null }> {
  const viewer = requireViewer(ctx);
  const size = pageSize(args.first);
  const rows = await ctx.store.listContacts(viewer.id, which, size + 1, args.after ?? undefined);
  const page = rows.slice(0, size);
  const users = await Promise.all(page.map((r) => ctx.users.load(otherId(r, viewer.id))));
  // A user deleted since the list was read takes their rows along: leave them out.
  const nodes = page.flatMap((r, i) => (users[i] ? [node(r, users[i], viewer.id)] : []));
  return { nodes, endCursor: rows.length > size ? otherId(page.at(-1)!, viewer.id) : null };
}

export const contactResolvers = {
  Query: withErrorCodes({
    users: async (_: unknown, args: PageArgs & { prefix: string }, ctx: DirectoryContext) => {
      requireViewer(ctx);
      const prefix = parseUsernamePrefix(args.prefix);
      const size = pageSize(args.first);
      const rows = await ctx.store.searchUsers(prefix, size + 1, args.after ?? undefined);
      const nodes = rows.slice(0, size);
      return { nodes, endCursor: rows.length > size ? nodes.at(-1)!.username : null };
    },
    contacts: (_: unknown, args: PageArgs, ctx: DirectoryContext) => contactPage(ctx, 'ACCEPTED', args, contactNode),
    contactRequests: (_: unknown, args: PageArgs & { direction: Direction }, ctx: DirectoryContext) => contactPage(ctx, args.direction, args, requestNode),
  }),

  Mutation: withErrorCodes({
    requestContact: async (_: unknown, args: { username: string }, ctx: DirectoryContext) => {
      const viewer = requireViewer(ctx);
      const other = await userNamed(ctx, args.username);
      if (other.id === viewer.id) throw gatewayError('BAD_USER_INPUT', 'you cannot ask yourself to be a contact', { field: 'username' });
      const { outcome, row } = await ctx.store.requestContact(viewer.id, other.id);
      if (outcome === 'requested') publishContactEvent(ctx, other.id, 'REQUEST_RECEIVED', viewer.id);
      if (outcome === 'accepted') publishContactEvent(ctx, other.id, 'REQUEST_ACCEPTED', viewer.id);
      switch (outcome) {
        case 'requested':
          return { outcome: 'REQUESTED', user: other, request: requestNode(row, other, viewer.id), contact: null };
        case 'accepted':
          return { outcome: 'ACCEPTED', user: other, request: null, contact: contactNode(row, other) };
        case 'duplicate':
          throw gatewayError('CONTACT_REQUEST_EXISTS', 'you have asked this user already: wait for an answer, or cancel the request');
        case 'already-contacts':
          throw gatewayError('ALREADY_CONTACTS', 'you are contacts already');
      }
    },

    acceptContact: async (_: unknown, args: { username: string }, ctx: DirectoryContext) => {
      const viewer = requireViewer(ctx);
      const other = await userNamed(ctx, args.username);
      const row = await ctx.store.acceptContact(viewer.id, other.id);
      if (!row) throw gatewayError('NOT_FOUND', 'no pending contact request from this user', { field: 'username' });
      publishContactEvent(ctx, other.id, 'REQUEST_ACCEPTED', viewer.id);
      return contactNode(row, other);
    },

    rejectContact: async (_: unknown, args: { username: string }, ctx: DirectoryContext) => {
      const viewer = requireViewer(ctx);
      const other = await userNamed(ctx, args.username);
      if (!(await ctx.store.deleteContactRequest(other.id, viewer.id))) throw gatewayError('NOT_FOUND', 'no pending contact request from this user', { field: 'username' });
      publishContactEvent(ctx, other.id, 'REQUEST_REJECTED', viewer.id);
      return true;
    },

    cancelContactRequest: async (_: unknown, args: { username: string }, ctx: DirectoryContext) => {
      const viewer = requireViewer(ctx);
      const other = await userNamed(ctx, args.username);
      if (!(await ctx.store.deleteContactRequest(viewer.id, other.id))) throw gatewayError('NOT_FOUND', 'no pending contact request to this user', { field: 'username' });
      publishContactEvent(ctx, other.id, 'REQUEST_CANCELLED', viewer.id);
      return true;
    },

    removeContact: async (_: unknown, args: { username: string }, ctx: DirectoryContext) => {
      const viewer = requireViewer(ctx);
      const other = await userNamed(ctx, args.username);
      if (!(await ctx.store.deleteContact(viewer.id, other.id))) throw gatewayError('NOT_FOUND', 'not a contact', { field: 'username' });
      publishContactEvent(ctx, other.id, 'CONTACT_REMOVED', viewer.id);
      return true;
    },
  }),
};

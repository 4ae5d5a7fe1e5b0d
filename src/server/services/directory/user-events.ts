/**
 * @module
 * Events about the people a user deals with (src/server/services/directory/events.graphql): contact requests and
 * answers, and key changes of their contacts. Each goes to one user's topic, after the
 * change is stored, and carries ids only; a client re-reads what it needs (its contact
 * lists; the other user's key history, which it verifies against its pin: the event is a
 * hint, never trusted as a key).
 */
import type { DirectoryContext } from './store.js';
import { requireViewer } from '../../context.js';
import { toGraphQLError } from '../../errors.js';

export type ContactEventKind = 'REQUEST_RECEIVED' | 'REQUEST_ACCEPTED' | 'REQUEST_REJECTED' | 'REQUEST_CANCELLED' | 'CONTACT_REMOVED';

export interface ContactEvent {
  readonly kind: ContactEventKind;
  /** The other user. */
  readonly userId: string;
}

export interface KeyChangedEvent {
  readonly userId: string;
  readonly version: number;
}

export const contactTopic = (userId: string): string => `User:${userId}:contacts`;
export const keyTopic = (userId: string): string => `User:${userId}:keys`;

/** Most contacts told about one key change (a page of the contact list). */
const MAX_KEY_CHANGE_FANOUT = 1000;

export function publishContactEvent(ctx: DirectoryContext, toUserId: string, kind: ContactEventKind, otherUserId: string): void {
  ctx.pubsub.publish(contactTopic(toUserId), { kind, userId: otherUserId } satisfies ContactEvent);
}

/** Tells `userId`'s contacts that their keys moved to `version`. */
export async function publishKeyChange(ctx: Pick<DirectoryContext, 'store' | 'pubsub'>, userId: string, version: number): Promise<void> {
  const rows = await ctx.store.listContacts(userId, 'ACCEPTED', MAX_KEY_CHANGE_FANOUT);
  for (const r of rows) {
    const contact = r.userLowId === userId ? r.userHighId : r.userLowId;
    ctx.pubsub.publish(keyTopic(contact), { userId, version } satisfies KeyChangedEvent);
  }
}

function ownTopic(topic: (userId: string) => string) {
  return (_: unknown, __: unknown, ctx: DirectoryContext) => {
    try {
      return ctx.pubsub.subscribe(topic(requireViewer(ctx).id));
    } catch (e) {
      throw toGraphQLError(e);
    }
  };
}

export const userEventResolvers = {
  Subscription: {
    contactEvents: { subscribe: ownTopic(contactTopic), resolve: (e: ContactEvent) => e },
    contactKeyChanged: { subscribe: ownTopic(keyTopic), resolve: (e: KeyChangedEvent) => e },
  },
  ContactEvent: {
    user: (e: ContactEvent, _: unknown, ctx: DirectoryContext) => ctx.users.load(e.userId),
  },
  KeyChangedEvent: {
    user: (e: KeyChangedEvent, _: unknown, ctx: DirectoryContext) => ctx.users.load(e.userId),
  },
};

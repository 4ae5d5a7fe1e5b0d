/**
 * @module
 * Where messaging's sealed values belong (docs/messaging.md "Keys", "Messages"), shared by
 * the client that seals and wraps and the gateway that checks bindings: one definition, so
 * the two can never disagree on a byte of a location.
 */
import type { Location } from '../crypto/location.js';

/** The place a conversation's epoch-`epoch` key is wrapped for. */
export function epochKeyLocation(conversationId: string, epoch: number): Location {
  return { coordinate: EPOCH_KEY_COORDINATE, ownerId: conversationId, objectId: epochKeyObjectId(epoch) };
}

export const EPOCH_KEY_COORDINATE = 'Conversation';

/** The object id part of an epoch key's location. */
export function epochKeyObjectId(epoch: number): string {
  return `epoch:${epoch}`;
}

/** The place a message body is sealed for. */
export function messageBodyLocation(conversationId: string, clientId: string): Location {
  return { coordinate: 'Message.body', ownerId: conversationId, objectId: clientId };
}

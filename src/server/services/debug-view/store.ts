/**
 * @module
 * What debugView() reads: the rows of the author's types come through their TypeAdapters'
 * `find`; messages (with messaging()) from the messaging tables.
 */
import type { ServiceContext } from '../../context.js';
import type { MessagingStore } from '../messaging/store.js';
import type { LayerStore } from '../../storage/store.js';

export type DebugViewStore = Pick<MessagingStore, 'findMessage' | 'findConversation' | 'findMember'>;

/** What the service's resolvers receive: the context with the store it declares (and the layer's). */
export type DebugViewContext = ServiceContext<LayerStore & DebugViewStore>;

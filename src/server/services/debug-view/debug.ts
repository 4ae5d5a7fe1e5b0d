/**
 * @module
 * The debug view (src/server/services/debug-view/debug.graphql, docs/debug-view.md): `storedObject(type, id)` shows
 * how the database holds one object, field by field — PUBLIC values in clear, the SERVER
 * blob and blind indexes, the client's envelopes — with each envelope's key version read
 * from its header. It never decrypts anything.
 *
 * The types it answers: every type of the privacy manifest whose TypeAdapter has `find`
 * (the reference app's Profile, a schema author's Journal), and `Message` when messaging() is
 * taken (the messaging service's own).
 *
 * Who may call it: a signed-in viewer, on a gateway with the view on (`debugView`, off in
 * production), for an object they may read: one they own or hold a grant on, a message of
 * a conversation they are a member of and whose epoch they may read (the rule of
 * `messages`). Anything else is null, whether or not it exists. Within an object, a
 * field the viewer may not read (a PRIVATE field, for a grantee) is a FORBIDDEN error on
 * its `stored`, `bytes` and `keyVersion`, as the object's own query answers. Stored values
 * are never logged.
 */
import { base64urlEncode } from '../../../crypto/base64url.js';
import { utf8Encode } from '../../../crypto/bytes.js';
import { parseEnvelope, parseEnvelopeText } from '../../../crypto/envelope.js';
import type { ObjectPrivacy } from '../../../privacy/manifest.js';
import type { PrivacyLevel } from '../../../privacy/levels.js';
import type { DebugViewContext } from './store.js';
import { requireViewer } from '../../context.js';
import { forbidden, gatewayError } from '../../errors.js';
import type { MessageRow } from '../../storage/store.js';
import { withErrorCodes } from '../../resolver-errors.js';

/** One row of the answer; `forbidden` (internal) names what the viewer may not read. */
export interface StoredField {
  readonly field: string;
  readonly level: PrivacyLevel;
  readonly column: string;
  readonly stored: string | null;
  readonly bytes: number | null;
  readonly keyVersion: number | null;
  readonly serverCanRead: boolean;
  readonly forbidden?: string;
}

export interface StoredObject {
  readonly type: string;
  readonly id: string;
  readonly fields: readonly StoredField[];
}

export const DEBUG_VIEW_DISABLED = 'DEBUG_VIEW_DISABLED';
/** A message seq, as the messaging API takes it. */
const SEQ = /^\d{1,15}$/;

function disabled(): Error {
  return gatewayError(DEBUG_VIEW_DISABLED, 'the debug view is off on this gateway (it is off in production by default): start the gateway with VEIL_DEBUG_VIEW=on to enable it');
}

/** The key version in an envelope's header; null when the value does not parse as one. */
function headerVersion(parse: () => { keyVersion: number }): number | null {
  try {
    return parse().keyVersion;
  } catch {
    return null;
  }
}

function publicText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

function publicField(field: string, column: string, value: unknown, level: PrivacyLevel = 'PUBLIC'): StoredField {
  const stored = publicText(value);
  return { field, level, column, stored, bytes: stored === null ? null : utf8Encode(stored).length, keyVersion: null, serverCanRead: true };
}

/** A client-sealed envelope stored as text (SHARED, PRIVATE, message bodies). */
function envelopeField(field: string, level: PrivacyLevel, column: string, text: string | null): StoredField {
  if (text === null) return { field, level, column, stored: null, bytes: null, keyVersion: null, serverCanRead: false };
  return { field, level, column, stored: text, bytes: utf8Encode(text).length, keyVersion: headerVersion(() => parseEnvelopeText(text)), serverCanRead: false };
}

/**
 * The fields of one stored row of a manifest type, in schema order, laid out as
 * docs/privacy.md stores them: PUBLIC, SHARED and PRIVATE fields in their own columns, every
 * SERVER field in the row's `serverSealed` blob, a searchable field's blind index in
 * `<field>Index`. Fields the viewer may not read carry `forbidden` and no value.
 */
async function manifestFields(ctx: DebugViewContext, typeName: string, object: ObjectPrivacy, row: Record<string, unknown>): Promise<StoredField[]> {
  const ownerId = String(row[object.owner]);
  const objectId = String(row[object.id]);
  const blob = row.serverSealed instanceof Uint8Array ? row.serverSealed : null;
  const out: StoredField[] = [];
  for (const [name, f] of Object.entries(object.fields)) {
    if (name === object.id) continue;
    const rows: StoredField[] = [];
    if (f.level === 'PUBLIC') rows.push(publicField(name, `${typeName}.${name}`, row[name]));
    else if (f.level === 'SERVER') {
      rows.push({
        field: name,
        level: 'SERVER',
        column: `${typeName}.serverSealed`,
        stored: blob === null ? null : base64urlEncode(blob),
        bytes: blob === null ? null : blob.length,
        keyVersion: blob === null ? null : headerVersion(() => parseEnvelope(blob)),
        serverCanRead: true,
      });
      if (f.searchable) rows.push(publicField(`${name} (blind index)`, `${typeName}.${name}Index`, row[`${name}Index`], 'SERVER'));
    } else {
      const v = row[name];
      rows.push(envelopeField(name, f.level, `${typeName}.${name}`, typeof v === 'string' ? v : null));
    }
    const readable = await ctx.access.canRead(typeName, objectId, ownerId, f.level);
    for (const r of rows) {
      out.push(readable ? r : { field: r.field, level: r.level, column: r.column, stored: null, bytes: null, keyVersion: null, serverCanRead: r.serverCanRead, forbidden: `read ${typeName}.${name}` });
    }
  }
  return out;
}

/** The types the view answers: every manifest type whose TypeAdapter can `find` a row, and messages with messaging(). */
export function debugTypes(ctx: Pick<DebugViewContext, 'manifest' | 'types' | 'services'>): string[] {
  const types = Object.keys(ctx.manifest.objects).filter((t) => typeof ctx.types.get(t)?.find === 'function');
  if (ctx.services.has('messaging') && !types.includes('Message')) types.push('Message');
  return types;
}

/** One row of a manifest type, through its TypeAdapter's `find`. */
async function storedRow(ctx: DebugViewContext, type: string, id: string): Promise<StoredObject | null> {
  const viewer = requireViewer(ctx);
  const object = ctx.manifest.objects[type]!;
  const row = (await ctx.types.get(type)!.find!(id)) as Record<string, unknown> | null;
  if (!row) return null;
  const ownerId = String(row[object.owner]);
  const objectId = String(row[object.id]);
  // The adapter answers for the id it was asked; a row of another id would be another object's.
  if (objectId !== id) return null;
  // Owner or grantee (READ or WRITE), as for SHARED fields; a stranger gets what a missing
  // id gets, so the view confirms nothing.
  if (ownerId !== viewer.id && (await ctx.access.grantOf(type, objectId)) === null) return null;
  return { type, id: objectId, fields: await manifestFields(ctx, type, object, row) };
}

async function storedMessage(ctx: DebugViewContext, id: string): Promise<StoredObject | null> {
  const viewer = requireViewer(ctx);
  if (!SEQ.test(id)) throw gatewayError('BAD_USER_INPUT', 'a Message id is its seq, a decimal number', { field: 'id' });
  const m: MessageRow | null = await ctx.store.findMessage(Number(id));
  if (!m) return null;
  // The rule of `messages`: a member, of an epoch they may read (from the one they joined,
  // or any with history sharing), and not expired (an expired message is no longer listed).
  const [conversation, member] = await Promise.all([ctx.store.findConversation(m.conversationId), ctx.store.findMember(m.conversationId, viewer.id)]);
  if (!conversation || !member) return null;
  if (!conversation.historySharing && m.epoch < member.joinedEpoch) return null;
  if (m.expiresAt !== null && m.expiresAt.getTime() <= Date.now()) return null;
  const col = (name: string): string => `Message.${name}`;
  return {
    type: 'Message',
    id: String(m.seq),
    fields: [
      envelopeField('body', 'SHARED', col('body'), m.body),
      publicField('conversationId', col('conversationId'), m.conversationId),
      publicField('clientId', col('clientId'), m.clientId),
      publicField('senderId', col('senderId'), m.senderId),
      publicField('epoch', col('epoch'), m.epoch),
      publicField('expiresAt', col('expiresAt'), m.expiresAt),
      publicField('createdAt', col('createdAt'), m.createdAt),
    ],
  };
}

const guarded =
  <K extends 'stored' | 'bytes' | 'keyVersion'>(key: K) =>
  (f: StoredField): StoredField[K] => {
    if (f.forbidden !== undefined) throw forbidden(f.forbidden);
    return f[key];
  };

export const debugResolvers = {
  Query: withErrorCodes({
    storedObject: async (_: unknown, args: { type: string; id: string }, ctx: DebugViewContext): Promise<StoredObject | null> => {
      requireViewer(ctx);
      if (!ctx.debugView) throw disabled();
      // Message is the messaging service's own (its body is a SHARED envelope, its metadata PUBLIC).
      if (args.type === 'Message' && ctx.services.has('messaging')) return storedMessage(ctx, args.id);
      const types = debugTypes(ctx);
      if (args.type !== 'Message' && types.includes(args.type)) return storedRow(ctx, args.type, args.id);
      throw gatewayError('BAD_USER_INPUT', `type must be one of ${types.join(', ')}`, { field: 'type' });
    },
  }),
  StoredField: {
    stored: guarded('stored'),
    bytes: guarded('bytes'),
    keyVersion: guarded('keyVersion'),
  },
};

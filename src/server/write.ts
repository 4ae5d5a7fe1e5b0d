/**
 * @module
 * The write path for any annotated type, driven by the manifest: what a resolver stores
 * for an input of a `@writes` input type. Schema authors call this instead of writing
 * crypto code:
 *
 *   const columns = await veil.write(ctx, 'NoteInput', input, { ownerId, objectId }, previousRow);
 *
 * (`veil.write` is `authorizedWrite` below: `prepareWrite` after checking that the viewer may
 * write every field it is given.)
 * It checks every SHARED/PRIVATE value is sealed for (Type.field, ownerId, objectId)
 * (BAD_SEALED_VALUE otherwise), signed by the acting user when signed (and always when a
 * grantee writes SHARED values), and SHARED values sealed under the object's data key as
 * stored, key id and newest version (./sealed-writers.ts: BAD_SIGNATURE, NO_DATA_KEY,
 * WRONG_DATA_KEY, STALE_DATA_KEY); it passes PUBLIC and sealed values through, seals all SERVER
 * values of the row into one envelope (`serverSealed`, `serverKeyVersion`; merged with the
 * previous row's SERVER values on updates), and computes `<field>Index` blind indexes
 * for searchable SERVER fields. Fields of the input that write nothing (e.g. `id`) are
 * left to the caller.
 */
import type { GatewayServices, VeilContext } from './context.js';
import { forbidden, gatewayError } from './errors.js';
import { assertSealedInputLocations } from './sealed-input.js';
import { assertSealedWriters, type SealedWriteServices } from './sealed-writers.js';
import type { ServerRow } from './server-fields.js';

export interface PreparedWrite {
  /** Column values to store: PUBLIC as given, SHARED/PRIVATE envelopes as given, SERVER sealed. */
  readonly columns: Record<string, unknown>;
}

export async function prepareWrite(
  services: Pick<GatewayServices, 'backend' | 'manifest' | 'codec'> & SealedWriteServices,
  inputType: string,
  input: Readonly<Record<string, unknown>>,
  where: { readonly ownerId: string; readonly objectId: string },
  previous?: { readonly serverSealed?: Uint8Array | null } | null,
): Promise<PreparedWrite> {
  const spec = services.manifest.inputs[inputType];
  if (!spec) throw new Error(`${inputType} has no @writes(type: ...): nothing to prepare`);
  assertSealedInputLocations(services.backend, services.manifest, inputType, input, where);
  await assertSealedWriters(services, inputType, input, where);
  const columns: Record<string, unknown> = {};
  const server: Record<string, unknown> = {};
  let serverTouched = false;
  for (const [name, f] of Object.entries(spec.fields)) {
    const v = input[name];
    if (v === undefined) continue;
    if (f.level === 'SERVER') {
      server[name] = v;
      serverTouched = true;
      if (f.searchable) columns[`${name}Index`] = typeof v === 'string' ? services.codec.blindIndex(f.coordinate, v) : null;
    } else {
      columns[name] = v;
    }
  }
  if (serverTouched) {
    const merged = previous ? { ...services.codec.open(spec.writes, previousRow(previous), where.ownerId, where.objectId), ...server } : server;
    const sealed = services.codec.seal(spec.writes, where.ownerId, where.objectId, merged);
    columns.serverSealed = sealed?.sealed ?? null;
    columns.serverKeyVersion = sealed?.keyVersion ?? 0;
  }
  return { columns };
}

/** A previous row as the codec reads it: its `serverSealed` bytes (null when it has none). */
function previousRow(previous: { readonly serverSealed?: Uint8Array | null }): ServerRow & Record<string, unknown> {
  const sealed = previous.serverSealed;
  if (sealed !== null && sealed !== undefined && !(sealed instanceof Uint8Array)) throw new TypeError('previous.serverSealed must be the stored bytes (Uint8Array) or null');
  // The codec memoises opened blobs per row object: the caller's row itself is the key.
  return previous as ServerRow & Record<string, unknown>;
}

/**
 * `veil.write`: FORBIDDEN (nothing checked further, nothing sealed) unless the viewer may
 * write the object (its owner or a WRITE grantee, whatever `input` holds) and every field of
 * `input` at its level (./access.ts: the owner; a WRITE grantee for all
 * but PRIVATE fields), then `prepareWrite`'s checks and sealing, then FORBIDDEN unless
 * `where.ownerId` is the object's owner (its TypeAdapter's `owners`; the viewer for an
 * object that does not exist yet). Returns the columns to store.
 */
export async function authorizedWrite(
  services: Pick<GatewayServices, 'backend' | 'manifest' | 'codec' | 'store'>,
  ctx: VeilContext,
  inputType: string,
  inputObject: object,
  where: { readonly ownerId: string; readonly objectId: string },
  previous?: { readonly serverSealed?: Uint8Array | null } | null,
): Promise<Record<string, unknown>> {
  const spec = services.manifest.inputs[inputType];
  if (!spec) throw gatewayError('INTERNAL_SERVER_ERROR', `${inputType} is not an input type with @writes(type: …): veil.write has nothing to prepare`);
  // Any object (a TypeScript interface of the author's included); read as a record.
  const input = inputObject as Readonly<Record<string, unknown>>;
  if (!ctx?.access) throw gatewayError('INTERNAL_SERVER_ERROR', "veil.write needs veilgraph's request context (veil.context(request))");
  // The object first, whatever the input holds: an empty input, or one whose fields are all
  // the resolver's own (not fields of the type), is still a write of this object.
  if (!(await ctx.access.canWrite(spec.writes, where.objectId, where.ownerId, 'PUBLIC'))) throw forbidden(`write this ${spec.writes}`);
  for (const [name, f] of Object.entries(spec.fields)) {
    if (input[name] === undefined) continue;
    if (!(await ctx.access.canWrite(spec.writes, where.objectId, where.ownerId, f.level))) throw forbidden(`write ${spec.writes}.${name}`);
  }
  const { columns } = await prepareWrite({ ...services, viewer: ctx.viewer }, inputType, input, where, previous);
  // The owner the resolver names is checked, not trusted: an object that exists belongs to
  // whom its TypeAdapter says, and a new one to the viewer who makes it. A resolver that
  // passed the viewer as the owner of someone else's object (or an owner taken from an
  // argument) would otherwise let anyone write it. Checked last, so a stranger holding an
  // object's id gets the answers of the checks above exactly as for an id nobody uses
  // (BAD_SEALED_VALUE, NO_DATA_KEY: no word of the owner's key), and only then FORBIDDEN.
  const stored = await ctx.owners.ownerOf(spec.writes, where.objectId);
  if (where.ownerId !== (stored ?? ctx.viewer?.id)) throw forbidden(`write this ${spec.writes}`);
  return columns;
}

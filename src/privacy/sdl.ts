/**
 * @module
 * The directives a schema author writes, as SDL. Added to every schema the gateway and the
 * code generator load, so authors write only their types.
 *
 * - `@privacy(level, pad, searchable)` on a field, an input field, or a whole type (the
 *   default for its leaf fields).
 * - `@owner(field, id)` on a type with protected fields: which field holds the owning
 *   user's id, and which field is the object's id. Authorization and the location every
 *   ciphertext is bound to both need them.
 * - `@writes(type)` on an input type: its fields write the same-named fields of `type`,
 *   inherit their levels, and are sealed for their locations (`Type.field`).
 * - `Sealed`: how SHARED and PRIVATE values travel (envelope v1 text, docs/crypto.md).
 */
/**
 * Response keys starting with this are the client link's own (the owner and id it selects
 * next to sealed fields); clients refuse them in user documents. The gateway lets exactly
 * those two fields (OWNER_ALIAS, ID_ALIAS) through its alias budget and counts every other
 * alias, `_vg` or not (docs/requests.md).
 */
export const RESERVED_ALIAS_PREFIX = '_vg';
/** Response key under which the client link selects a sealed object's owner field (`@owner(field)`). */
export const OWNER_ALIAS = `${RESERVED_ALIAS_PREFIX}Owner`;
/** Response key under which the client link selects a sealed object's id field (`@owner(id)`). */
export const ID_ALIAS = `${RESERVED_ALIAS_PREFIX}Id`;

export const PRIVACY_SDL = /* GraphQL */ `
"""Who may read a field. See docs/privacy.md."""
enum PrivacyLevel {
  "Anyone the resolver lets through; stored in clear."
  PUBLIC
  "Owner, granted users and the gateway; encrypted at rest by the gateway."
  SERVER
  "Owner and the users the owner granted; end-to-end encrypted by the client."
  SHARED
  "The owner's devices only; end-to-end encrypted by the client."
  PRIVATE
}

"""
Privacy level of a field, input field, or (as a default for its leaf fields) a type.
pad: padding bucket sizes in bytes (default PADME). searchable: keep a blind index for
equality lookups (SERVER only).
"""
directive @privacy(level: PrivacyLevel!, pad: [Int!], searchable: Boolean = false) on FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT

"""How the owner (a user id) and the object id of a protected type are found."""
directive @owner(field: String!, id: String = "id") on OBJECT

"""The output type whose same-named fields this input type writes."""
directive @writes(type: String!) on INPUT_OBJECT

"""An end-to-end encrypted value: envelope v1 as strict base64url (docs/crypto.md)."""
scalar Sealed
`;

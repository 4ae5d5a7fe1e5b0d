/**
 * @module
 * Who wrote a signed value (docs/client.md, "Signed values"; envelope signatures:
 * docs/crypto.md §6). An envelope's `signerKeyId` is authenticated by the AEAD, so only a
 * key holder set it, but any key holder (a READ grantee included) can name anyone: what
 * proves authorship is the signature, checked against a key the key directory verified.
 *
 * `checkSigners` does that for every signed value of a result at once:
 *
 * - the directory is asked once, with every distinct signer key id
 *   (`SignerDirectory.resolveSigners`; `KeyDirectory` answers known keys from memory and
 *   the rest with one `keyOwners` request plus one history fetch per user);
 * - each envelope's signature is then verified with its signer's verified key: one
 *   Ed25519 verification per envelope (a signature covers one envelope), remembered by
 *   the digest of key and envelope, so reading the same values again verifies nothing.
 *
 * A value whose signer no verified history holds is `SIGNER_UNKNOWN`; one whose signature
 * does not verify under that key is `SIGNATURE_INVALID`.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlEncode } from '../crypto/base64url.js';
import { concatBytes } from '../crypto/bytes.js';
import { verifyEnvelopeSignature, type ParsedEnvelope } from '../crypto/envelope.js';
import { isCryptoError } from '../crypto/errors.js';
import type { SignerInfo } from './directory.js';

/** What checking signers needs of the key directory; `KeyDirectory` is one. */
export interface SignerDirectory {
  /**
   * The verified owner of each signing key id, keyed by the id in base64url; null when no
   * verified key history holds it. Rejects only when the directory cannot be reached.
   */
  resolveSigners(signingKeyIds: readonly Uint8Array[]): Promise<ReadonlyMap<string, SignerInfo | null>>;
}

/** A signed value's signer, checked: the user whose verified key history holds the key. */
export interface VerifiedSigner {
  /** The signer's key id, base64url. */
  readonly signerKeyId: string;
  readonly userId: string;
  readonly username: string;
  /** The version of the user's keys the signing key belongs to (older ones sign older values). */
  readonly keyVersion: number;
}

export type SignerCheck =
  | { readonly ok: true; readonly signer: VerifiedSigner }
  | { readonly ok: false; readonly code: 'SIGNER_UNKNOWN' | 'SIGNATURE_INVALID'; readonly why: string };

/** Envelopes verified lately, by digest of (signing key ‖ envelope): a pure fact, safe to share. */
const verified = new Map<string, true>();
const MAX_REMEMBERED = 4096;

function remember(digest: string): void {
  verified.set(digest, true);
  if (verified.size > MAX_REMEMBERED) verified.delete(verified.keys().next().value!);
}

/**
 * Checks the signer of each signed envelope (`signerKeyId` set) against `directory`; the
 * answers are in the order of `envelopes`. Rejects only when the directory does.
 */
export async function checkSigners(backend: CryptoBackend, directory: SignerDirectory, envelopes: readonly ParsedEnvelope[]): Promise<SignerCheck[]> {
  const ids = new Map<string, Uint8Array>();
  for (const env of envelopes) {
    if (!env.signerKeyId) throw new TypeError('checkSigners: an envelope without a signer');
    ids.set(base64urlEncode(env.signerKeyId), env.signerKeyId);
  }
  const owners = ids.size > 0 ? await directory.resolveSigners([...ids.values()]) : new Map<string, SignerInfo | null>();
  return Promise.all(
    envelopes.map(async (env): Promise<SignerCheck> => {
      const signerKeyId = base64urlEncode(env.signerKeyId!);
      const owner = owners.get(signerKeyId);
      if (!owner) return { ok: false, code: 'SIGNER_UNKNOWN', why: `its signer (key ${signerKeyId}) is in no verified key history` };
      const signer: VerifiedSigner = { signerKeyId, userId: owner.userId, username: owner.username, keyVersion: owner.version };
      const digest = base64urlEncode(backend.sha256(concatBytes(owner.signingKey, env.bytes)));
      if (verified.has(digest)) return { ok: true, signer };
      try {
        // Also checks that the key's id is the envelope's signerKeyId.
        await verifyEnvelopeSignature(backend, env, owner.signingKey);
      } catch (e) {
        if (!isCryptoError(e)) throw e;
        return { ok: false, code: 'SIGNATURE_INVALID', why: `the signature is not ${owner.username}'s (${e.message})` };
      }
      remember(digest);
      return { ok: true, signer };
    }),
  );
}

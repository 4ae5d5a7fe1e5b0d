/**
 * @module
 * Fixed DER prefixes that turn raw 32-byte X25519/Ed25519 keys into PKCS#8 (private) and
 * SPKI (public) encodings (RFC 8410), the forms node:crypto and WebCrypto import.
 */
import { concatBytes } from '../bytes.js';

const PKCS8_X25519 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const PKCS8_ED25519 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const SPKI_X25519 = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);
const SPKI_ED25519 = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

export type Curve = 'x25519' | 'ed25519';

export function pkcs8(curve: Curve, raw: Uint8Array): Uint8Array {
  return concatBytes(curve === 'x25519' ? PKCS8_X25519 : PKCS8_ED25519, raw);
}

export function spki(curve: Curve, raw: Uint8Array): Uint8Array {
  return concatBytes(curve === 'x25519' ? SPKI_X25519 : SPKI_ED25519, raw);
}

/** The raw key is the last 32 bytes of both encodings. */
export function rawFromDer(der: Uint8Array): Uint8Array {
  return der.slice(der.length - 32);
}

/**
 * @module
 * Every domain-separation label used by the v1 formats, in one place so docs/crypto.md
 * and the code cannot drift apart. Each label is ASCII and, where it prefixes variable
 * data, is followed by a 0x00 byte.
 */
import { utf8Encode } from './bytes.js';

export const LABEL = {
  keyId: utf8Encode('veilgraph/v1/key-id\0'),
  location: utf8Encode('veilgraph/v1/location\0'),
  envelopeSignature: utf8Encode('veilgraph/v1/envelope-signature\0'),
  wrap: utf8Encode('veilgraph/v1/wrap'),
  wrapMac: utf8Encode('veilgraph/v1/wrap-mac'),
  wrapSignature: utf8Encode('veilgraph/v1/wrap-signature\0'),
  backupAuth: utf8Encode('veilgraph/v1/backup-auth'),
  backupWrap: utf8Encode('veilgraph/v1/backup-wrap'),
  deviceCode: utf8Encode('veilgraph/v1/device-code\0'),
} as const;

/** The four privacy levels, in increasing order of protection. */
export const PRIVACY_LEVELS = ['PUBLIC', 'SERVER', 'SHARED', 'PRIVATE'] as const;
export type PrivacyLevel = (typeof PRIVACY_LEVELS)[number];

/** SHARED and PRIVATE values are sealed by the client; the server never holds their key. */
export function isSealedLevel(level: PrivacyLevel): level is 'SHARED' | 'PRIVATE' {
  return level === 'SHARED' || level === 'PRIVATE';
}

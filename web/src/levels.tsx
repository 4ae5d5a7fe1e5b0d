/**
 * @module
 * The four privacy levels as the app shows them: the model's colours (green public,
 * yellow server, orange shared, red private), read from the generated manifest so the
 * badge next to a field is always the schema's level.
 */
import { privacyManifest } from '../../client/generated/privacy.js';
import { levelOf } from '../../src/privacy/manifest.js';
import type { PrivacyLevel } from '../../src/privacy/levels.js';

export const LEVEL_INFO: Readonly<Record<PrivacyLevel, { readonly colour: string; readonly who: string }>> = {
  PUBLIC: { colour: 'green', who: 'anyone' },
  SERVER: { colour: 'yellow', who: 'you, people you grant, and the server (encrypted at rest)' },
  SHARED: { colour: 'orange', who: 'you and people you grant (end-to-end encrypted)' },
  PRIVATE: { colour: 'red', who: 'only your devices (end-to-end encrypted)' },
};

export function profileFieldLevel(field: string): PrivacyLevel {
  return levelOf(privacyManifest, 'Profile', field);
}

export function LevelBadge({ level }: { readonly level: PrivacyLevel }) {
  const info = LEVEL_INFO[level];
  return (
    <span className={`level level-${level.toLowerCase()}`} data-level={level} title={`${level}: ${info.who}`}>
      {level}
    </span>
  );
}

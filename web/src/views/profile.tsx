/**
 * @module
 * The viewer's profile: one input per field with its privacy level, saved through the
 * generated mutation hooks (the privacy link seals the SHARED and PRIVATE values on the
 * way out), and who may read the SHARED fields (grant and revoke, with re-sealing).
 */
import { useEffect, useState, type FormEvent } from 'react';
import {
  useContactsQuery,
  useCreateProfileMutation,
  useGrantsQuery,
  useMyProfileQuery,
  useUpdateProfileMutation,
} from '../../../client/generated/hooks.js';
import { describeError, fieldError, type ShownError } from '../errors.js';
import { LevelBadge, profileFieldLevel } from '../levels.js';
import type { WebSession } from '../session.js';
import { ErrorLine, newObjectId, useAction } from './parts.js';
import { useInspect } from './server-view.js';

const FIELDS = [
  { name: 'displayName', label: 'Display name', multiline: false },
  { name: 'email', label: 'Email', multiline: false },
  { name: 'phone', label: 'Phone', multiline: false },
  { name: 'bio', label: 'Bio', multiline: true },
  { name: 'diary', label: 'Diary', multiline: true },
] as const;

type FieldName = (typeof FIELDS)[number]['name'];
type Values = Record<FieldName, string>;

const EMPTY: Values = { displayName: '', email: '', phone: '', bio: '', diary: '' };

export function ProfileView({ session }: { readonly session: WebSession }) {
  const { data, loading, error, refetch } = useMyProfileQuery({ errorPolicy: 'all', fetchPolicy: 'network-only' });
  const [createProfile] = useCreateProfileMutation();
  const [updateProfile] = useUpdateProfileMutation();
  const [values, setValues] = useState<Values>(EMPTY);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const [saveError, setSaveError] = useState<ShownError | null>(null);
  const inspect = useInspect();
  const profile = data?.myProfile ?? null;

  useEffect(() => {
    if (!profile) return;
    setValues({
      displayName: profile.displayName,
      email: profile.email ?? '',
      phone: profile.phone ?? '',
      bio: profile.bio ?? '',
      diary: profile.diary ?? '',
    });
    inspect({ type: 'Profile', id: profile.id });
  }, [profile, inspect]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setSaved(false);
    setSaveError(null);
    // Empty optional fields are stored as null (unset), not as an empty sealed string.
    const input = {
      displayName: values.displayName,
      email: values.email || null,
      phone: values.phone || null,
      bio: values.bio || null,
      diary: values.diary || null,
    };
    try {
      // The saved profile reaches the cache; the effect above then shows it in the panel.
      if (profile) {
        await updateProfile({ variables: { id: profile.id, input } });
      } else {
        const id = newObjectId();
        await createProfile({ variables: { input: { id, ...input } } });
        await refetch();
      }
      setSaved(true);
    } catch (e2) {
      setSaveError(describeError(e2));
    } finally {
      setSaving(false);
    }
  };

  if (loading && !data) return <p>Loading your profile…</p>;
  return (
    <section className="profile">
      <h2>{profile ? 'Your profile' : 'Create your profile'}</h2>
      <form onSubmit={(e) => void save(e)} data-testid="profile-form">
        {FIELDS.map((f) => {
          const level = profileFieldLevel(f.name);
          const problem = fieldError(error, f.name);
          return (
            <label key={f.name} className={`field field-${level.toLowerCase()}`}>
              <span className="field-label">
                {f.label} <LevelBadge level={level} />
              </span>
              {f.multiline ? (
                <textarea data-testid={`profile-${f.name}`} value={values[f.name]} rows={3} onChange={(e) => setValues({ ...values, [f.name]: e.target.value })} />
              ) : (
                <input data-testid={`profile-${f.name}`} value={values[f.name]} required={f.name === 'displayName'} onChange={(e) => setValues({ ...values, [f.name]: e.target.value })} />
              )}
              {problem && <ErrorLine error={problem} />}
            </label>
          );
        })}
        <button type="submit" data-testid="profile-save" disabled={saving}>
          {saving ? 'Sealing and saving…' : 'Save'}
        </button>
        {saved && (
          <span className="ok" data-testid="profile-saved">
            Saved
          </span>
        )}
        <ErrorLine error={saveError} />
      </form>
      {profile && <ProfileAccess session={session} profileId={profile.id} bio={profile.bio ?? ''} />}
    </section>
  );
}

/**
 * Who may read the SHARED fields. Granting wraps the profile's data key for the contact's
 * verified key; revoking rotates the data key for everyone who keeps access and re-seals
 * the bio under it, so the revoked contact's copy opens nothing written from now on.
 */
function ProfileAccess({ session, profileId, bio }: { readonly session: WebSession; readonly profileId: string; readonly bio: string }) {
  const contacts = useContactsQuery({ fetchPolicy: 'cache-and-network' });
  const grants = useGrantsQuery({ variables: { objectType: 'Profile', objectId: profileId }, fetchPolicy: 'network-only' });
  const [updateProfile] = useUpdateProfileMutation();
  const { busy, error, run } = useAction();
  const granted = new Set((grants.data?.grants ?? []).map((g) => g.grantee.username));

  const change = (username: string, grant: boolean) =>
    run(async () => {
      if (grant) await session.sharing.grant('Profile', profileId, username, 'READ');
      else await session.sharing.revoke('Profile', profileId, username, { reseal: async () => void (await updateProfile({ variables: { id: profileId, input: { bio: bio || null } } })) });
      await grants.refetch();
    }, username);

  const people = contacts.data?.contacts.nodes ?? [];
  return (
    <section className="access" data-testid="profile-access">
      <h3>
        Who can read your <LevelBadge level="SHARED" /> fields
      </h3>
      {people.length === 0 && <p className="hint">Add contacts first; then you can give them access here.</p>}
      <ul>
        {people.map(({ user }) => {
          const has = granted.has(user.username);
          return (
            <li key={user.id} data-testid={`access-${user.username}`} data-granted={has ? 'yes' : 'no'}>
              <span>{user.username}</span> {has ? <span className="ok">can read</span> : <span className="hint">no access</span>}{' '}
              <button data-testid={`${has ? 'revoke' : 'grant'}-${user.username}`} disabled={busy !== null} onClick={() => void change(user.username, !has)}>
                {busy === user.username ? '…' : has ? 'Revoke' : 'Grant'}
              </button>
            </li>
          );
        })}
      </ul>
      <ErrorLine error={error} />
    </section>
  );
}

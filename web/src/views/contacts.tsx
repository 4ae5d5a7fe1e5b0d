/**
 * @module
 * Contacts: find people by username, send and answer requests (live, through the
 * `contactEvents` subscription hook), read a contact's profile (its SHARED fields open
 * only when they granted you access) and compare safety numbers to verify their keys.
 */
import { useState } from 'react';
import {
  useAcceptContactMutation,
  useCancelContactRequestMutation,
  useContactEventsSubscription,
  useContactRequestsQuery,
  useContactsQuery,
  useRejectContactMutation,
  useRequestContactMutation,
  useSearchUsersQuery,
  useUserProfileQuery,
} from '../../../client/generated/hooks.js';
import { describeError, fieldError, type ShownError } from '../errors.js';
import { LevelBadge, profileFieldLevel } from '../levels.js';
import type { WebSession } from '../session.js';
import { ErrorLine, useAction } from './parts.js';

export function ContactsView({ session }: { readonly session: WebSession }) {
  const [prefix, setPrefix] = useState('');
  const [viewing, setViewing] = useState<string | null>(null);
  const { error, run } = useAction();
  const search = useSearchUsersQuery({ variables: { prefix: prefix.trim() }, skip: prefix.trim() === '' });
  const contacts = useContactsQuery({ fetchPolicy: 'network-only' });
  const incoming = useContactRequestsQuery({ variables: { direction: 'INCOMING' }, fetchPolicy: 'network-only' });
  const outgoing = useContactRequestsQuery({ variables: { direction: 'OUTGOING' }, fetchPolicy: 'network-only' });
  const refetchAll = async () => {
    await Promise.all([contacts.refetch(), incoming.refetch(), outgoing.refetch()]);
  };
  // Requests and answers from others arrive live.
  useContactEventsSubscription({ onData: () => void refetchAll() });
  const [requestContact] = useRequestContactMutation();
  const [acceptContact] = useAcceptContactMutation();
  const [rejectContact] = useRejectContactMutation();
  const [cancelRequest] = useCancelContactRequestMutation();

  const act = (action: () => Promise<unknown>) =>
    run(async () => {
      await action();
      await refetchAll();
    });

  const me = session.account.username;
  const known = new Set([...(contacts.data?.contacts.nodes ?? []).map((c) => c.user.username), ...(outgoing.data?.contactRequests.nodes ?? []).map((r) => r.user.username)]);
  return (
    <section className="contacts">
      <h2>Contacts</h2>
      <label>
        Find people
        <input data-testid="contact-search" value={prefix} placeholder="username" onChange={(e) => setPrefix(e.target.value)} />
      </label>
      <ul data-testid="search-results">
        {(search.data?.users.nodes ?? [])
          .filter((u) => u.username !== me)
          .map((u) => (
            <li key={u.id}>
              {u.username}{' '}
              {known.has(u.username) ? (
                <span className="hint">requested or connected</span>
              ) : (
                <button data-testid={`request-${u.username}`} onClick={() => void act(() => requestContact({ variables: { username: u.username } }))}>
                  Add contact
                </button>
              )}
            </li>
          ))}
      </ul>

      <h3>Requests for you</h3>
      <ul data-testid="incoming-requests">
        {(incoming.data?.contactRequests.nodes ?? []).map((r) => (
          <li key={r.user.id} data-testid={`incoming-${r.user.username}`}>
            {r.user.username}{' '}
            <button data-testid={`accept-${r.user.username}`} onClick={() => void act(() => acceptContact({ variables: { username: r.user.username } }))}>
              Accept
            </button>{' '}
            <button onClick={() => void act(() => rejectContact({ variables: { username: r.user.username } }))}>Reject</button>
          </li>
        ))}
      </ul>

      <h3>Your requests</h3>
      <ul data-testid="outgoing-requests">
        {(outgoing.data?.contactRequests.nodes ?? []).map((r) => (
          <li key={r.user.id}>
            {r.user.username} <span className="hint">waiting</span>{' '}
            <button onClick={() => void act(() => cancelRequest({ variables: { username: r.user.username } }))}>Cancel</button>
          </li>
        ))}
      </ul>

      <h3>Your contacts</h3>
      <ul data-testid="contact-list">
        {(contacts.data?.contacts.nodes ?? []).map((c) => (
          <li key={c.user.id} data-testid={`contact-${c.user.username}`}>
            {c.user.username}{' '}
            <button data-testid={`view-${c.user.username}`} onClick={() => setViewing(c.user.username)}>
              View profile
            </button>
          </li>
        ))}
      </ul>
      <ErrorLine error={error} />
      {viewing && <ContactProfile key={viewing} session={session} username={viewing} />}
    </section>
  );
}

const SHOWN = ['displayName', 'email', 'phone', 'bio', 'diary'] as const;

/** A contact's profile as this viewer may read it: each unreadable field says why. */
function ContactProfile({ session, username }: { readonly session: WebSession; readonly username: string }) {
  const { data, error, loading, refetch } = useUserProfileQuery({ variables: { username }, errorPolicy: 'all', fetchPolicy: 'network-only' });
  const [safety, setSafety] = useState<string | null>(null);
  const [safetyError, setSafetyError] = useState<ShownError | null>(null);
  const profile = data?.user?.profile ?? null;

  const showSafetyNumber = async () => {
    try {
      setSafety(await session.directory.safetyNumber(session.account.username, session.signingKey, username));
    } catch (e) {
      setSafetyError(describeError(e));
    }
  };

  return (
    <article className="contact-profile" data-testid={`profile-of-${username}`}>
      <h3>
        {username}&rsquo;s profile <button data-testid="contact-profile-reload" onClick={() => void refetch()}>Reload</button>
      </h3>
      {loading && !data && <p>Loading…</p>}
      {!loading && !profile && <p className="hint">{username} has no profile you can see.</p>}
      {profile && (
        <dl>
          {SHOWN.map((name) => {
            const problem = fieldError(error, name);
            const value = profile[name];
            return (
              <div key={name} className={`field field-${profileFieldLevel(name).toLowerCase()}`} data-testid={`contact-field-${name}`}>
                <dt>
                  {name} <LevelBadge level={profileFieldLevel(name)} />
                </dt>
                <dd>{problem ? <span className="locked" data-code={problem.code}>cannot open ({problem.code})</span> : value === null || value === undefined ? <span className="hint">not set</span> : <span data-testid={`contact-value-${name}`}>{value}</span>}</dd>
              </div>
            );
          })}
        </dl>
      )}
      <p>
        <button onClick={() => void showSafetyNumber()}>Compare safety number</button>
        {safety && (
          <code className="safety" data-testid="safety-number">
            {safety}
          </code>
        )}
      </p>
      <ErrorLine error={safetyError} />
    </article>
  );
}

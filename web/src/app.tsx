/**
 * @module
 * The app's states: checking this browser's key store, welcome (sign up, sign in,
 * restore), the recovery phrase right after sign-up, and the signed-in app with its
 * three views and the "what the server sees" panel.
 */
import { ApolloProvider } from '@apollo/client/react';
import { useEffect, useState } from 'react';
import type { Account } from '../../src/client/index.js';
import { describeError, type ShownError } from './errors.js';
import { startSession, storedUsername, type WebSession } from './session.js';
import { ChatView } from './views/chat.js';
import { ContactsView } from './views/contacts.js';
import { ErrorLine } from './views/parts.js';
import { ProfileView } from './views/profile.js';
import { InspectProvider, ServerView } from './views/server-view.js';
import { PhraseOnce, Welcome } from './views/welcome.js';

type Stage =
  | { readonly kind: 'loading' }
  | { readonly kind: 'welcome'; readonly stored: string | undefined }
  | { readonly kind: 'phrase'; readonly account: Account; readonly phrase: string }
  | { readonly kind: 'ready'; readonly session: WebSession };

type Tab = 'profile' | 'contacts' | 'chat';

export function App() {
  const [stage, setStage] = useState<Stage>({ kind: 'loading' });
  const [error, setError] = useState<ShownError | null>(null);

  useEffect(() => {
    storedUsername().then(
      (stored) => setStage({ kind: 'welcome', stored }),
      (e: unknown) => {
        setError(describeError(e));
        setStage({ kind: 'welcome', stored: undefined });
      },
    );
  }, []);

  const begin = async (account: Account) => {
    try {
      setStage({ kind: 'ready', session: await startSession(account) });
    } catch (e) {
      setError(describeError(e));
    }
  };

  const signOut = async (session: WebSession) => {
    await session.close();
    // The keys stay in this browser: "Sign in" opens them again.
    setStage({ kind: 'welcome', stored: session.account.username });
  };

  switch (stage.kind) {
    case 'loading':
      return <p className="loading">Opening this browser&rsquo;s key store…</p>;
    case 'welcome':
      return (
        <>
          <Welcome storedUsername={stage.stored} onCreated={(account, phrase) => setStage({ kind: 'phrase', account, phrase })} onSignedIn={(account) => void begin(account)} />
          <ErrorLine error={error} />
        </>
      );
    case 'phrase':
      return <PhraseOnce phrase={stage.phrase} onDone={() => void begin(stage.account)} />;
    case 'ready':
      return <SignedIn session={stage.session} onSignOut={() => void signOut(stage.session)} />;
  }
}

function SignedIn({ session, onSignOut }: { readonly session: WebSession; readonly onSignOut: () => void }) {
  const [tab, setTab] = useState<Tab>('profile');
  return (
    <ApolloProvider client={session.client}>
      <InspectProvider>
        <header className="top">
          <strong>veilgraph</strong>
          <nav className="tabs" role="tablist">
            {(['profile', 'contacts', 'chat'] as const).map((t) => (
              <button key={t} role="tab" aria-selected={tab === t} data-testid={`tab-${t}`} onClick={() => setTab(t)}>
                {t === 'profile' ? 'Profile' : t === 'contacts' ? 'Contacts' : 'Chat'}
              </button>
            ))}
          </nav>
          <span className="who" data-testid="signed-in-as">
            {session.account.username}
          </span>
          <button data-testid="signout" onClick={onSignOut}>
            Sign out
          </button>
        </header>
        <div className="layout">
          <main>
            {tab === 'profile' && <ProfileView session={session} />}
            {tab === 'contacts' && <ContactsView session={session} />}
            {tab === 'chat' && <ChatView session={session} />}
          </main>
          <ServerView />
        </div>
      </InspectProvider>
    </ApolloProvider>
  );
}

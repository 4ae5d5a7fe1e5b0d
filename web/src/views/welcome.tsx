/**
 * @module
 * Before a session: sign up (creates the account's keys in this browser and a recovery
 * phrase, shown once), sign in (this browser already holds an account's keys), or restore
 * on a new browser from the 24-word phrase.
 */
import { useState, type FormEvent } from 'react';
import { Account } from '../../../src/client/index.js';
import { accountOptions, browserDeviceName } from '../session.js';
import { ErrorLine, useAction } from './parts.js';

type Mode = 'signup' | 'signin' | 'restore';

export interface WelcomeProps {
  /** The account this browser holds keys for, if any. */
  readonly storedUsername: string | undefined;
  /** A new account and its phrase (to show once). */
  readonly onCreated: (account: Account, phrase: string) => void;
  readonly onSignedIn: (account: Account) => void;
}

export function Welcome({ storedUsername, onCreated, onSignedIn }: WelcomeProps) {
  const [mode, setMode] = useState<Mode>(storedUsername ? 'signin' : 'signup');
  const [username, setUsername] = useState('');
  const [phrase, setPhrase] = useState('');
  const { busy: running, error, run } = useAction();
  const busy = running !== null;

  const signUp = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const options = await accountOptions();
      const account = await Account.create(options, username.trim(), { deviceName: browserDeviceName() });
      // The phrase backup is made at once: without it, losing this browser loses the account.
      const words = await account.backupWithPhrase();
      onCreated(account, words);
    });
  };
  const signIn = () => void run(async () => onSignedIn(await Account.open(await accountOptions())));
  const restore = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const account = await Account.restoreWithPhrase(await accountOptions(), username.trim(), phrase, { deviceName: browserDeviceName() });
      onSignedIn(account);
    });
  };

  return (
    <main className="welcome">
      <h1>veilgraph</h1>
      <p className="lede">Encrypted profile and chat. Your keys stay in this browser; the server stores what it cannot read.</p>
      <nav className="tabs" role="tablist">
        {storedUsername && (
          <button role="tab" aria-selected={mode === 'signin'} data-testid="tab-signin" onClick={() => setMode('signin')}>
            Sign in
          </button>
        )}
        {!storedUsername && (
          <button role="tab" aria-selected={mode === 'signup'} data-testid="tab-signup" onClick={() => setMode('signup')}>
            Sign up
          </button>
        )}
        {!storedUsername && (
          <button role="tab" aria-selected={mode === 'restore'} data-testid="tab-restore" onClick={() => setMode('restore')}>
            Restore with phrase
          </button>
        )}
      </nav>
      {mode === 'signin' && storedUsername && (
        <section>
          <p>
            This browser holds the keys of <strong data-testid="stored-username">{storedUsername}</strong>.
          </p>
          <button data-testid="signin" disabled={busy} onClick={signIn}>
            Sign in as {storedUsername}
          </button>
        </section>
      )}
      {mode === 'signup' && (
        <form onSubmit={signUp}>
          <label>
            Username
            <input data-testid="signup-username" value={username} autoComplete="username" onChange={(e) => setUsername(e.target.value)} required />
          </label>
          <button type="submit" data-testid="signup" disabled={busy || username.trim() === ''}>
            {busy ? 'Creating keys…' : 'Create account'}
          </button>
        </form>
      )}
      {mode === 'restore' && (
        <form onSubmit={restore}>
          <label>
            Username
            <input data-testid="restore-username" value={username} onChange={(e) => setUsername(e.target.value)} required />
          </label>
          <label>
            Recovery phrase (24 words)
            <textarea data-testid="restore-phrase" value={phrase} rows={4} autoComplete="off" spellCheck={false} onChange={(e) => setPhrase(e.target.value)} required />
          </label>
          <button type="submit" data-testid="restore" disabled={busy || username.trim() === '' || phrase.trim() === ''}>
            {busy ? 'Restoring…' : 'Restore on this browser'}
          </button>
        </form>
      )}
      <ErrorLine error={error} />
    </main>
  );
}

/** The recovery phrase, shown once right after sign-up. */
export function PhraseOnce({ phrase, onDone }: { readonly phrase: string; readonly onDone: () => void }) {
  const [confirmed, setConfirmed] = useState(false);
  const words = phrase.split(' ');
  return (
    <main className="welcome">
      <h1>Your recovery phrase</h1>
      <p>
        Write these 24 words down and keep them somewhere safe. They are the only way to open your data on a new browser if you lose this one.
        They are shown <strong>once</strong>; the server never sees them.
      </p>
      <ol className="phrase" data-testid="phrase">
        {words.map((w, i) => (
          <li key={i}>{w}</li>
        ))}
      </ol>
      <label className="inline">
        <input type="checkbox" data-testid="phrase-confirm" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} /> I wrote them down
      </label>
      <button data-testid="phrase-done" disabled={!confirmed} onClick={onDone}>
        Continue
      </button>
    </main>
  );
}

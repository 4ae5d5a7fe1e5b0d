/**
 * @module
 * Small pieces every view uses.
 */
import { useState } from 'react';
import { base64urlEncode } from '../../../src/crypto/base64url.js';
import { describeError, type ShownError } from '../errors.js';

export function ErrorLine({ error }: { readonly error: ShownError | null | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert" data-testid="error" data-code={error.code}>
      <code>{error.code}</code> {error.message}
    </p>
  );
}

/** A random object id the client chooses (16 bytes, base64url), as the schema asks. */
export function newObjectId(): string {
  return base64urlEncode(crypto.getRandomValues(new Uint8Array(16)));
}

export interface Action {
  /** What is running (the `label` given to `run`), or null. */
  readonly busy: string | null;
  readonly error: ShownError | null;
  /** Runs `action` once nothing else is running; its failure becomes `error`. */
  run(action: () => Promise<unknown>, label?: string): Promise<void>;
}

/** One button's worth of async work: busy while it runs, its error shown after. */
export function useAction(): Action {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<ShownError | null>(null);
  return {
    busy,
    error,
    async run(action, label = 'busy') {
      setBusy(label);
      setError(null);
      try {
        await action();
      } catch (e) {
        setError(describeError(e));
      } finally {
        setBusy(null);
      }
    },
  };
}

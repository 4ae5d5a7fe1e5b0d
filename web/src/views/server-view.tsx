/**
 * @module
 * "What the server sees": the stored form of the object last looked at (the viewer's
 * profile, or a message clicked in the chat), from the gateway's debug query
 * (`storedObject`, docs/debug-view.md; off in production). Next to each field: its level,
 * the column, the key version in the envelope header and whether the gateway could read it.
 */
import { createContext, useContext, useState, type ReactNode } from 'react';
import { CombinedGraphQLErrors } from '@apollo/client';
import { useStoredObjectQuery } from '../../../client/generated/hooks.js';
import { describeError } from '../errors.js';
import { LevelBadge } from '../levels.js';
import { ErrorLine } from './parts.js';

export interface InspectTarget {
  readonly type: 'Profile' | 'Message';
  readonly id: string;
}

type Inspect = (target: InspectTarget) => void;

const InspectContext = createContext<{ target: InspectTarget | null; nonce: number; inspect: Inspect }>({ target: null, nonce: 0, inspect: () => undefined });

export function InspectProvider({ children }: { readonly children: ReactNode }) {
  const [state, setState] = useState<{ target: InspectTarget | null; nonce: number }>({ target: null, nonce: 0 });
  // Stable across renders: the views call it from effects.
  const [inspect] = useState<Inspect>(() => (target: InspectTarget) => setState((s) => ({ target, nonce: s.nonce + 1 })));
  return <InspectContext.Provider value={{ ...state, inspect }}>{children}</InspectContext.Provider>;
}

/** Shows `target` in the server panel, read afresh (also when it is already shown). */
export function useInspect(): Inspect {
  return useContext(InspectContext).inspect;
}

export function ServerView() {
  const { target, nonce } = useContext(InspectContext);
  return (
    <aside className="server-view" data-testid="server-view">
      <h2>What the server sees</h2>
      {target ? <StoredObject key={`${target.type}:${target.id}:${nonce}`} target={target} /> : <p className="hint">Open your profile, or click a message, to see how the database holds it.</p>}
    </aside>
  );
}

function StoredObject({ target }: { readonly target: InspectTarget }) {
  const { data, error, loading } = useStoredObjectQuery({ variables: { type: target.type, id: target.id }, fetchPolicy: 'network-only', errorPolicy: 'all' });
  if (loading) return <p>Reading the database…</p>;
  const object = data?.storedObject;
  // Rows whose stored value the gateway withheld from this viewer (a PRIVATE field of
  // someone else's object): FORBIDDEN at storedObject.fields.<i>.stored.
  const hidden = new Set<number>();
  if (CombinedGraphQLErrors.is(error)) {
    for (const e of error.errors) if (e.path?.[1] === 'fields' && e.path[3] === 'stored' && typeof e.path[2] === 'number') hidden.add(e.path[2]);
  }
  if (!object) return <ErrorLine error={error ? describeError(error) : { code: 'NOT_FOUND', message: `no ${target.type} ${target.id} that you may read` }} />;
  return (
    <div data-testid="stored-object" data-type={object.type} data-id={object.id}>
      <p className="hint">
        {object.type} <code>{object.id}</code>
      </p>
      <table>
        <thead>
          <tr>
            <th>field</th>
            <th>level</th>
            <th>stored in the database</th>
          </tr>
        </thead>
        <tbody>
          {object.fields.map((f, i) => (
            <tr key={f.field} data-testid={`stored-${f.field}`} data-level={f.level} data-server-can-read={f.serverCanRead ? 'yes' : 'no'}>
              <td>
                {f.field}
                <div className="hint">{f.column}</div>
              </td>
              <td>
                <LevelBadge level={f.level} />
                <div className="hint">{f.serverCanRead ? 'server can read' : 'server cannot read'}</div>
                {f.keyVersion !== null && f.keyVersion !== undefined && <div className="hint">key v{f.keyVersion}</div>}
              </td>
              <td>
                {f.stored === null || f.stored === undefined ? <span className="hint">{hidden.has(i) ? 'hidden from you' : 'unset'}</span> : <code className="stored" data-testid={`stored-value-${f.field}`}>{f.stored}</code>}
                {f.bytes !== null && f.bytes !== undefined && <div className="hint">{f.bytes} bytes</div>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

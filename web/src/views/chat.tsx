/**
 * @module
 * Group chat. The conversation list uses a generated hook; messages arrive through the
 * `messageAdded` subscription hook (history after cursor 0, then live) and are verified and
 * opened by the Messenger with the conversation's epoch keys; `Messenger.send` seals, signs
 * and sends new ones (with its own epoch handling). The server routes envelopes it cannot
 * open. A send that failed keeps its client id: sending the same text again retries it, so
 * a message whose answer was lost is stored once and ends as delivered (docs/messaging.md).
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useContactsQuery, useConversationsQuery, useMessageAddedSubscription } from '../../../client/generated/hooks.js';
import type { MessageFieldsFragment } from '../../../client/generated/graphql.js';
import { MessageError, SessionError, type OpenedMessage } from '../../../src/client/index.js';
import { describeError, type ShownError } from '../errors.js';
import type { WebSession } from '../session.js';
import { ErrorLine, useAction } from './parts.js';
import { useInspect } from './server-view.js';

/** How often the conversation list looks for conversations others added this user to. */
const CONVERSATIONS_POLL_MS = 2_000;

export function ChatView({ session }: { readonly session: WebSession }) {
  const conversations = useConversationsQuery({ pollInterval: CONVERSATIONS_POLL_MS, fetchPolicy: 'cache-and-network' });
  const contacts = useContactsQuery({ fetchPolicy: 'cache-and-network' });
  const [selected, setSelected] = useState<string | null>(null);
  const [picked, setPicked] = useState<ReadonlySet<string>>(new Set());
  const { busy, error, run } = useAction();
  const creating = busy !== null;
  const me = session.account.username;

  const create = () =>
    run(async () => {
      // Epoch 1's key is made here and wrapped for each member's verified key.
      const id = await session.messenger.create('GROUP', [...picked]);
      await conversations.refetch();
      setPicked(new Set());
      setSelected(id);
    });

  const list = conversations.data?.conversations.nodes ?? [];
  return (
    <section className="chat">
      <div className="chat-side">
        <h2>Conversations</h2>
        <ul data-testid="conversation-list">
          {list.map((c) => {
            const others = c.members.map((m) => m.user.username).filter((u) => u !== me);
            return (
              <li key={c.id}>
                <button className={selected === c.id ? 'selected' : ''} data-testid={`conversation-${others.join('-')}`} onClick={() => setSelected(c.id)}>
                  {others.join(', ') || 'just you'} <span className="hint">epoch {c.epoch}</span>
                </button>
              </li>
            );
          })}
        </ul>
        <h3>New group</h3>
        {(contacts.data?.contacts.nodes ?? []).map(({ user }) => (
          <label key={user.id} className="inline">
            <input
              type="checkbox"
              data-testid={`pick-${user.username}`}
              checked={picked.has(user.username)}
              onChange={(e) => {
                const next = new Set(picked);
                if (e.target.checked) next.add(user.username);
                else next.delete(user.username);
                setPicked(next);
              }}
            />{' '}
            {user.username}
          </label>
        ))}
        <button data-testid="create-group" disabled={picked.size === 0 || creating} onClick={() => void create()}>
          {creating ? 'Creating…' : 'Start group chat'}
        </button>
        <ErrorLine error={error} />
      </div>
      {selected ? <Conversation key={selected} session={session} conversationId={selected} /> : <p className="hint">Pick a conversation or start one with your contacts.</p>}
    </section>
  );
}

interface Line {
  readonly seq: string;
  readonly message?: OpenedMessage;
  readonly problem?: ShownError;
  readonly senderUsername: string;
}

function Conversation({ session, conversationId }: { readonly session: WebSession; readonly conversationId: string }) {
  const [lines, setLines] = useState<readonly Line[]>([]);
  const [text, setText] = useState('');
  const { busy, error, run } = useAction();
  const inspect = useInspect();
  // The text being sent and its client id, until the server answers. Sending the same text
  // again after a failure is a retry with the same id; another text gets a new one.
  const pending = useRef<{ readonly text: string; readonly clientId: string } | null>(null);
  // Events are opened one after another, so the list keeps the server's seq order.
  const queue = useRef<Promise<void>>(Promise.resolve());
  const seen = useRef(new Set<string>());

  const add = (m: MessageFieldsFragment) => {
    queue.current = queue.current.then(async () => {
      if (seen.current.has(m.seq)) return;
      seen.current.add(m.seq);
      let line: Line;
      try {
        line = { seq: m.seq, message: await session.messenger.open(m), senderUsername: m.sender.username };
      } catch (e) {
        line = { seq: m.seq, problem: e instanceof MessageError ? { code: e.code, message: e.message } : describeError(e), senderUsername: m.sender.username };
      }
      setLines((prev) => [...prev, line]);
    });
  };

  // Every stored message after cursor 0, then each new one live, in seq order.
  const stream = useMessageAddedSubscription({
    variables: { conversationId, after: '0' },
    onData: ({ data }) => {
      if (data.data) add(data.data.messageAdded);
    },
  });

  const bottom = useRef<HTMLLIElement>(null);
  useEffect(() => {
    // A block body: newer browsers return a Promise from scrollIntoView, and an effect may
    // return only a clean-up function.
    void bottom.current?.scrollIntoView({ block: 'nearest' });
  }, [lines]);

  const send = (e: FormEvent) => {
    e.preventDefault();
    if (text.trim() === '') return;
    // Sealed, signed and padded by the Messenger, which also re-seals once when a member
    // change started a new epoch (STALE_EPOCH) and rotates first when one is due. The
    // message comes back to this screen through the subscription.
    if (pending.current?.text !== text) pending.current = { text, clientId: session.messenger.newClientId() };
    const sending = pending.current;
    void run(async () => {
      try {
        await session.messenger.send(conversationId, sending.text, { clientId: sending.clientId });
      } catch (e) {
        // Keeping the id is safe after any failure but one: CONFLICT says the id holds
        // another message, so the next press sends this text as a new one.
        if (e instanceof SessionError && e.code === 'CONFLICT' && pending.current === sending) pending.current = null;
        throw e;
      }
      if (pending.current === sending) pending.current = null;
      setText('');
    });
  };
  const retrying = error !== null && pending.current?.text === text;

  return (
    <div className="conversation" data-testid="conversation">
      {stream.error && <ErrorLine error={describeError(stream.error)} />}
      <ol className="messages" data-testid="messages">
        {lines.map((l) => (
          <li key={l.seq} data-testid="message" data-seq={l.seq} data-sender={l.senderUsername} className={l.senderUsername === session.account.username ? 'mine' : ''}>
            <button className="inspect" title="What the server sees" onClick={() => inspect({ type: 'Message', id: l.seq })}>
              stored
            </button>
            <strong>{l.senderUsername}</strong>{' '}
            {l.message ? <span className="text" data-testid="message-text">{l.message.text}</span> : <span className="locked" data-code={l.problem?.code}>cannot open ({l.problem?.code})</span>}
          </li>
        ))}
        <li ref={bottom} className="end" aria-hidden="true" />
      </ol>
      <form onSubmit={send} className="composer">
        <input data-testid="message-input" value={text} placeholder="Message (end-to-end encrypted)" onChange={(e) => setText(e.target.value)} />
        <button type="submit" data-testid="message-send" disabled={busy !== null || text.trim() === ''}>
          {retrying ? 'Retry' : 'Send'}
        </button>
      </form>
      <ErrorLine error={error} />
    </div>
  );
}

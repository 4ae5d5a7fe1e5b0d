/**
 * @module
 * `veilWsClient`: the client pipeline (pipeline.ts) over a plain `graphql-ws` client, for
 * apps without Apollo or urql. Same calls as graphql-ws's own `subscribe` and `iterate`,
 * with a document (or its text) instead of a query string: each operation's variables are
 * sealed before it is sent and each event is opened before it is delivered, one at a time
 * and in order. Before the first operation with protected fields it runs the enforcement
 * check (once per `veilWsClient`): by default the probe `VgProbe` goes over the same
 * socket; the veilgraph gateway takes only subscriptions over WebSocket (queries get
 * BAD_USER_INPUT), so against it pass `probe: fetchProbe(httpUrl, { headers })`.
 *
 * Errors, as graphql-ws delivers them: a sealing failure or SERVER_NOT_ENFORCING is
 * `sink.error(VeilClientError)` (nothing was sent); the server's refusal to answer the probe
 * is `sink.error(errors)` with its GraphQL errors, as graphql-ws reports the server's
 * request errors; a result that cannot be opened at all (keys or key directory
 * unreachable) is `sink.error(e)`. Fields that fail to open are `null` with an error in the
 * event's `errors`, as everywhere else.
 *
 * Only graphql-ws's types are imported: the app passes its own client.
 */
import { parse, print, type DocumentNode, type FormattedExecutionResult } from 'graphql';
import type { Client, Sink } from 'graphql-ws';
import { PROBE_QUERY, type ProbeSender } from './enforcement.js';
import { createVeilPipeline, firstOperationName, type VeilClientOptions } from './pipeline.js';
import type { Variables } from './seal.js';

export interface VeilWsRequest {
  /** The operation: a document, or its text (parsed once per call). */
  readonly query: DocumentNode | string;
  readonly variables?: Variables;
  /** Which operation of the document; by default its first. */
  readonly operationName?: string;
  readonly extensions?: Record<string, unknown>;
}

export interface VeilWsClient {
  /** As graphql-ws's `client.subscribe`: returns the function that stops the operation. */
  subscribe(request: VeilWsRequest, sink: Sink<FormattedExecutionResult>): () => void;
  /** As graphql-ws's `client.iterate`: the opened events; ends when the operation completes, throws as `sink.error` would. */
  iterate(request: VeilWsRequest): AsyncIterableIterator<FormattedExecutionResult>;
}

export interface VeilWsClientOptions extends VeilClientOptions {
  /**
   * How the enforcement check's probe is sent: over the socket by default, which needs a
   * server that runs queries over WebSocket. The veilgraph gateway does not: use
   * `fetchProbe(httpUrl, { headers: { authorization } })` (enforcement.ts).
   */
  readonly probe?: ProbeSender;
}

/** The probe over the socket: its first result, or the server's request errors. */
function probeOver(client: Pick<Client, 'subscribe'>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const dispose = client.subscribe(
      { query: PROBE_QUERY, operationName: 'VgProbe' },
      {
        next(value) {
          answered = true;
          resolve(value);
          dispose();
        },
        error(e) {
          // graphql-ws delivers the server's request errors (validation, UNAUTHENTICATED) as an array.
          if (Array.isArray(e)) resolve({ errors: e as unknown[] });
          else reject(e instanceof Error ? e : new Error('the WebSocket closed before the enforcement check was answered', { cause: e }));
        },
        complete() {
          if (!answered) reject(new Error('the enforcement check completed without an answer'));
        },
      },
    );
  });
}

/** The helper; see the module comment and docs/client.md, "graphql-ws without Apollo or urql". */
export function veilWsClient(client: Pick<Client, 'subscribe'>, options: VeilWsClientOptions): VeilWsClient {
  const veil = createVeilPipeline(options);
  const probe = options.probe ?? (() => probeOver(client));

  function subscribe(request: VeilWsRequest, sink: Sink<FormattedExecutionResult>): () => void {
    let stopped = false;
    let disposeWs: (() => void) | undefined;
    // Each event is opened after the previous one was delivered.
    let queue: Promise<void> = Promise.resolve();
    const fail = (e: unknown): void => {
      if (stopped) return;
      stopped = true;
      disposeWs?.();
      sink.error(e);
    };
    // A step that throws (an event that cannot be opened at all) ends the operation with its error.
    const then = (step: () => Promise<void> | void): void => {
      queue = queue.then(() => (stopped ? undefined : step())).catch(fail);
    };

    void (async () => {
      const document = typeof request.query === 'string' ? parse(request.query) : request.query;
      const operationName = request.operationName ?? firstOperationName(document);
      const prepared = await veil.prepare({ document, operationName, variables: request.variables }, probe);
      if (stopped) return;
      if (prepared.kind === 'answered') return fail(prepared.result.errors ?? []);
      disposeWs = client.subscribe<Record<string, unknown>, Record<string, unknown>>(
        {
          query: printed(prepared.document),
          variables: prepared.variables,
          ...(operationName ? { operationName } : {}),
          ...(request.extensions ? { extensions: request.extensions } : {}),
        },
        {
          next: (event) =>
            then(async () => {
              const opened = await veil.open(event, prepared.document, operationName);
              if (!stopped) sink.next(opened);
            }),
          error: (e) => then(() => fail(e)),
          complete: () =>
            then(() => {
              stopped = true;
              sink.complete();
            }),
        },
      );
    })().catch(fail);

    return () => {
      stopped = true;
      disposeWs?.();
    };
  }

  function iterate(request: VeilWsRequest): AsyncIterableIterator<FormattedExecutionResult> {
    const pending: FormattedExecutionResult[] = [];
    let end: { readonly error?: unknown } | undefined;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    const dispose = subscribe(request, {
      next: (v) => (pending.push(v), notify()),
      error: (error) => ((end = { error }), notify()),
      complete: () => ((end = {}), notify()),
    });
    const iterator: AsyncIterableIterator<FormattedExecutionResult> = {
      async next() {
        for (;;) {
          const v = pending.shift();
          if (v) return { value: v, done: false };
          if (end) {
            if ('error' in end) throw end.error;
            return { value: undefined, done: true };
          }
          await new Promise<void>((r) => (wake = r));
        }
      },
      async return() {
        dispose();
        end ??= {};
        notify();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  return { subscribe, iterate };
}

const printedCache = new WeakMap<DocumentNode, string>();

/** The text to send, printed once per (cached) veiled document. */
function printed(document: DocumentNode): string {
  let s = printedCache.get(document);
  if (s === undefined) printedCache.set(document, (s = print(document)));
  return s;
}

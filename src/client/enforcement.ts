/**
 * @module
 * The enforcement check (docs/client.md, "The enforcement check"): before a client sends
 * its first operation with protected fields, it asks the server
 * `query VgProbe { _veilgraph { protocol enforced } }` and goes on only when the answer is
 * `{ protocol: 1, enforced: true }`. A server that merely serves the wire schema (an
 * ordinary GraphQL server given `toWireSchema`'s output) has no such field, and would
 * store SERVER values in clear, accept any string as a `Sealed` value and let anyone read
 * and overwrite: the client refuses it with `SERVER_NOT_ENFORCING` rather than send it
 * anything protected.
 *
 * One `EnforcementCheck` per client: the first caller's probe is shared by every caller
 * until it settles. A definitive answer (yes, or "not enforcing") is kept for the life of
 * the check; no answer (the transport failed) and a refusal to answer (request errors such
 * as UNAUTHENTICATED or RATE_LIMITED) are not, so the next caller asks again.
 *
 * What it does not prove: a server that lies answers the probe and enforces nothing. It
 * catches misconfiguration; end-to-end encryption is what protects SHARED and PRIVATE
 * values from a malicious server (docs/threats.md).
 */
import { parse, type DocumentNode, type FormattedExecutionResult } from 'graphql';
import { PROBE_FIELD, VEILGRAPH_PROTOCOL } from '../privacy/protocol.js';
import { VeilClientError } from './errors.js';

/** The probe, as sent (its operation name is `VgProbe`). */
export const PROBE_QUERY = `query VgProbe { ${PROBE_FIELD} { protocol enforced } }`;
export const PROBE_DOCUMENT: DocumentNode = parse(PROBE_QUERY);

/**
 * Sends `PROBE_QUERY` to the server and resolves with the GraphQL response it answered with
 * (`{ data?, errors? }`, whatever its HTTP status); rejects only when there is none (network
 * failure, a body that is not JSON).
 */
export type ProbeSender = () => Promise<unknown>;

export interface FetchProbeOptions {
  /** Sent with the probe, e.g. `authorization` (a refused token is the operation's answer, as for any request). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The `fetch` to use; the global one by default. */
  readonly fetch?: typeof fetch;
}

/**
 * A `ProbeSender` that POSTs `PROBE_QUERY` as JSON to `url` (which passes the gateway's CSRF
 * check) and resolves with the response body whatever the HTTP status; it rejects when
 * there is no answer or the body is not JSON. For clients that do not send the probe
 * through their own transport: plain `fetch`, graphql-request, a graphql-ws client whose
 * server takes only subscriptions over the socket (the veilgraph gateway).
 */
export function fetchProbe(url: string | URL, options: FetchProbeOptions = {}): ProbeSender {
  return async () => {
    const res = await (options.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { ...options.headers, 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({ query: PROBE_QUERY, operationName: 'VgProbe' }),
    });
    return (await res.json()) as unknown;
  };
}

/** How far a server's answer may be quoted in an error message. */
const QUOTE_CHARS = 200;

type Verdict =
  | { readonly kind: 'enforcing' }
  /** Definitive: remembered. */
  | { readonly kind: 'not-enforcing'; readonly reason: string }
  /** Request errors that say nothing about enforcement: the caller's answer, not remembered. */
  | { readonly kind: 'unanswered'; readonly result: FormattedExecutionResult };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function quote(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return s.length > QUOTE_CHARS ? `${s.slice(0, QUOTE_CHARS)}…` : s;
}

/**
 * What an answer to the probe says. Positive only for `data._veilgraph` equal to
 * `{ protocol: 1, enforced: true }`. Definitive no: any other `_veilgraph` object, `data`
 * without it, or a request error that shows the server does not know the field (graphql-js
 * validation, `GRAPHQL_VALIDATION_FAILED`, or an error naming `_veilgraph`).
 */
function judgeProbeAnswer(body: unknown): Verdict {
  if (!isRecord(body) || (!('data' in body) && !('errors' in body))) {
    throw new VeilClientError('SERVER_NOT_ENFORCING', `the server's answer to the enforcement check is not a GraphQL result: ${quote(body)}`);
  }
  const data = body.data;
  if (isRecord(data)) {
    const info = data[PROBE_FIELD];
    if (isRecord(info)) {
      if (info.protocol === VEILGRAPH_PROTOCOL && info.enforced === true) return { kind: 'enforcing' };
      return { kind: 'not-enforcing', reason: `it answers ${PROBE_FIELD} with ${quote({ protocol: info.protocol, enforced: info.enforced })}, not { protocol: ${VEILGRAPH_PROTOCOL}, enforced: true }` };
    }
    return { kind: 'not-enforcing', reason: `its answer has no ${PROBE_FIELD}` };
  }
  const errors = Array.isArray(body.errors) ? body.errors.filter(isRecord) : [];
  if (errors.length === 0) return { kind: 'not-enforcing', reason: `its answer has no ${PROBE_FIELD} and no error` };
  const unknownField = errors.find((e) => {
    const code = isRecord(e.extensions) ? e.extensions.code : undefined;
    return code === 'GRAPHQL_VALIDATION_FAILED' || (typeof e.message === 'string' && e.message.includes(PROBE_FIELD));
  });
  if (unknownField) return { kind: 'not-enforcing', reason: `it does not serve ${PROBE_FIELD} (${quote(unknownField.message)})` };
  return { kind: 'unanswered', result: { errors: errors as unknown as FormattedExecutionResult['errors'] } };
}

/**
 * The check of one client. `ensure(send)` resolves with `null` when the server enforces
 * (then the caller may send its operation), or with the server's request errors when it
 * refused to answer the probe (then they are the operation's answer); it rejects with a
 * `VeilClientError` `SERVER_NOT_ENFORCING` when the server does not enforce, and with the
 * transport's error when the probe got no answer. Only `send` of the caller that starts a
 * probe is used.
 */
export class EnforcementCheck {
  #verdict: { readonly kind: 'enforcing' } | { readonly kind: 'not-enforcing'; readonly reason: string } | undefined;
  #pending: Promise<FormattedExecutionResult | null> | undefined;

  ensure(send: ProbeSender): Promise<FormattedExecutionResult | null> {
    if (this.#verdict) return this.#verdict.kind === 'enforcing' ? Promise.resolve(null) : Promise.reject(refusal(this.#verdict.reason));
    this.#pending ??= this.#probe(send).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #probe(send: ProbeSender): Promise<FormattedExecutionResult | null> {
    const verdict = judgeProbeAnswer(await send());
    switch (verdict.kind) {
      case 'enforcing':
        this.#verdict = verdict;
        return null;
      case 'not-enforcing':
        this.#verdict = verdict;
        throw refusal(verdict.reason);
      case 'unanswered':
        return verdict.result;
    }
  }
}

function refusal(reason: string): VeilClientError {
  return new VeilClientError(
    'SERVER_NOT_ENFORCING',
    `the server does not enforce veilgraph's privacy levels: ${reason}. Nothing protected was sent. Serve the schema through veilgraph (docs/client.md, "The enforcement check").`,
  );
}

// docs/graphql-api.md is the reference people write their own clients from; this keeps it
// true mechanically. Every root field of the built schema has a section whose signature is
// the schema's, and the page names no root field that does not exist; every error code in
// its table is one the gateway (src/) or Apollo Server sets, and every code the gateway's
// code throws is in the table; every code the sections mention is in the table; every link
// to a doc and heading resolves; README links the page.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { astFromValue, isEnumType, print, type GraphQLField, type GraphQLObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { referenceSchema } from '../helpers/reference-schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = join(ROOT, 'docs');
const DOC = readFileSync(join(DOCS, 'graphql-api.md'), 'utf8');
const built = referenceSchema();
const ROOTS = ['Query', 'Mutation', 'Subscription'] as const;

function rootType(root: (typeof ROOTS)[number]): GraphQLObjectType {
  const t = root === 'Query' ? built.wire.getQueryType() : root === 'Mutation' ? built.wire.getMutationType() : built.wire.getSubscriptionType();
  if (!t) throw new Error(`the schema has no ${root} type`);
  return t;
}

const ROOT_FIELDS = new Map<string, GraphQLField<unknown, unknown>>(ROOTS.flatMap((root) => Object.values(rootType(root).getFields()).map((f) => [`${root}.${f.name}`, f] as const)));

/** A root field as the doc writes it: `name(arg: Type = default, …): Type`, defaults printed as GraphQL values. */
function signature(f: GraphQLField<unknown, unknown>): string {
  const args = f.args.map((a) => {
    const value = a.defaultValue === undefined ? null : astFromValue(a.defaultValue, a.type);
    return `${a.name}: ${String(a.type)}${value ? ` = ${print(value)}` : ''}`;
  });
  return `${f.name}${args.length > 0 ? `(${args.join(', ')})` : ''}: ${String(f.type)}`;
}

/** The root-field sections: heading `### \`Root.field\``, then the first code span of the section. */
function sections(): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  const parts = DOC.split(/^(?=#{1,6} )/m);
  for (const part of parts) {
    const m = /^### `((?:Query|Mutation|Subscription)\.[A-Za-z_]\w*)`\s*$/m.exec(part.split('\n', 1)[0]!);
    if (!m) continue;
    if (out.has(m[1]!)) throw new Error(`two sections for ${m[1]}`);
    out.set(m[1]!, /`([^`]+)`/.exec(part.slice(part.indexOf('\n')))?.[1]);
  }
  return out;
}

/** The body of the `## <title>` section (up to the next `## `). */
function h2(title: string): string {
  const start = DOC.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`no "## ${title}" in docs/graphql-api.md`);
  const end = DOC.indexOf('\n## ', start + 1);
  return DOC.slice(start, end < 0 ? undefined : end);
}

/** Rows of the error-code table: code → its source column. */
function tableCodes(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of h2('Error codes').split('\n')) {
    const m = /^\| `([A-Z][A-Z0-9_]*)` \| ([^|]+) \|/.exec(line);
    if (m) out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'generated' ? [] : tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const SRC = tsFiles(join(ROOT, 'src'));
const SRC_TEXT = SRC.map((f) => readFileSync(f, 'utf8')).join('\n');

/**
 * The codes the gateway's own code can put into `extensions.code`, collected from the ways
 * it sets one: `gatewayError('X'` (or a constant holding 'X'), `new AuthError('X'`, the
 * HTTP layer's `new HttpError(n, 'X'`, `new CodedInputError('X'`, a literal
 * `extensions: { code: 'X' }`, and the code unions of the gateway's and the auth core's
 * error types. Storage errors reach clients too (toGraphQLError): those the store throws
 * while serving (prisma-store.ts, errors.ts), not the start-up ones (open.ts, migrate.ts).
 */
function thrownCodes(): Map<string, string> {
  const found = new Map<string, string>();
  const add = (code: string, file: string): void => void (found.has(code) || found.set(code, relative(ROOT, file)));
  const patterns = [
    /gatewayError\(\s*'([A-Z][A-Z0-9_]*)'/g,
    /new AuthError\(\s*'([A-Z][A-Z0-9_]*)'/g,
    /new HttpError\(\s*\d+\s*,\s*'([A-Z][A-Z0-9_]*)'/g,
    /new CodedInputError\(\s*'([A-Z][A-Z0-9_]*)'/g,
    /extensions: \{[^}]*\bcode: '([A-Z][A-Z0-9_]*)'/g,
  ];
  // The privacy layer and its services (src/server) and the reference app serving them (src/app).
  const serving = [join(ROOT, 'src', 'server'), join(ROOT, 'src', 'app')];
  for (const file of SRC.filter((f) => serving.some((dir) => f.startsWith(dir)))) {
    const text = readFileSync(file, 'utf8');
    const isStorage = file.includes(`${join('server', 'storage')}`);
    if (isStorage && !/(prisma-store|errors)\.ts$/.test(file)) continue;
    for (const p of isStorage ? [/new StorageError\(\s*'([A-Z][A-Z0-9_]*)'/g] : patterns) for (const m of text.matchAll(p)) add(m[1]!, file);
    // gatewayError(NAME, …) with `const NAME = 'X'` in the same file.
    for (const m of text.matchAll(/gatewayError\(\s*([A-Z][A-Z0-9_]*)\s*,/g)) {
      const value = new RegExp(`const ${m[1]} = '([A-Z][A-Z0-9_]*)'`).exec(text)?.[1];
      if (!value) throw new Error(`${relative(ROOT, file)}: gatewayError(${m[1]}, …) with no const ${m[1]} = '…' in the file`);
      add(value, file);
    }
  }
  const unions: [string, string][] = [
    ['src/server/errors.ts', 'GatewayErrorCode'],
    ['src/server/services/sign-in/auth/errors.ts', 'AccountErrorCode'],
    ['src/crypto/auth-messages.ts', 'AuthErrorCode'],
  ];
  for (const [file, name] of unions) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const body = new RegExp(`export type ${name} =([\\s\\S]*?);`).exec(text)?.[1];
    if (!body) throw new Error(`${file}: no type ${name}`);
    for (const m of body.matchAll(/\|\s*'([A-Z][A-Z0-9_]*)'/g)) add(m[1]!, join(ROOT, file));
  }
  return found;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const slug = m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

describe('docs/graphql-api.md', () => {
  it('has one section per root field of the built schema, and none for a field that does not exist', () => {
    const documented = [...sections().keys()].sort();
    expect(documented.length).toBeGreaterThan(50); // the parser found the sections at all
    expect([...ROOT_FIELDS.keys()].filter((f) => !documented.includes(f)), 'root fields without a section').toEqual([]);
    expect(documented.filter((f) => !ROOT_FIELDS.has(f)), 'sections for root fields the schema does not have').toEqual([]);
  });

  it('opens each section with the field exactly as the schema declares it', () => {
    const wrong = [...sections()]
      .filter(([key, first]) => ROOT_FIELDS.has(key) && first !== signature(ROOT_FIELDS.get(key)!))
      .map(([key, first]) => `${key}: doc \`${first}\`, schema \`${signature(ROOT_FIELDS.get(key)!)}\``);
    expect(wrong).toEqual([]);
  });

  it('names no root field that does not exist, anywhere on the page', () => {
    const named = new Set([...DOC.matchAll(/\b(?:Query|Mutation|Subscription)\.[A-Za-z_]\w*/g)].map((m) => m[0]));
    expect([...named].filter((n) => !ROOT_FIELDS.has(n))).toEqual([]);
  });

  it('lists in its table only codes that src/ (gateway) or Apollo Server (Apollo Server) sets', () => {
    const apollo = new Set<string>(Object.values(ApolloServerErrorCode));
    const codes = tableCodes();
    expect(codes.size).toBeGreaterThan(40);
    const problems: string[] = [];
    for (const [code, source] of codes) {
      const sources = source.split(',').map((s) => s.trim());
      if (sources.some((s) => s !== 'gateway' && s !== 'Apollo Server')) problems.push(`${code}: unknown source "${source}"`);
      if (sources.includes('gateway') && !SRC_TEXT.includes(`'${code}'`)) problems.push(`${code}: listed as gateway, but no '${code}' in src/`);
      if (sources.includes('Apollo Server') && !apollo.has(code)) problems.push(`${code}: listed as Apollo Server, but not an ApolloServerErrorCode`);
    }
    expect(problems).toEqual([]);
    expect([...codes.keys()], 'the table is in code order').toEqual([...codes.keys()].sort());
  });

  it('lists every code the gateway code throws', () => {
    const thrown = thrownCodes();
    // The collection itself works: codes set in each of the ways it looks for.
    for (const known of ['STALE_EPOCH', 'LOGIN_FAILED', 'PAYLOAD_TOO_LARGE', 'BAD_SEALED_VALUE', 'QUERY_TOO_COMPLEX', 'DEBUG_VIEW_DISABLED', 'SUBSCRIPTION_LIMIT', 'DATABASE_UNAVAILABLE']) {
      expect(thrown.has(known), known).toBe(true);
    }
    const table = tableCodes();
    expect([...thrown].filter(([code]) => !table.has(code)).map(([code, file]) => `${code} (${file})`)).toEqual([]);
  });

  it('mentions, in backticks, no code that is not in its table', () => {
    const table = tableCodes();
    const enumValues = new Set(Object.values(built.wire.getTypeMap()).flatMap((t) => (isEnumType(t) ? t.getValues().map((v) => v.name) : [])));
    // Upper-case words in code spans that are neither codes nor enum values.
    const other = new Set(['AQEA', 'AQEB', 'HOST', 'PORT', 'ID', 'NODE_ENV', 'OPTIONS', 'INTROSPECTION_DISABLED']);
    const unknown = [...new Set([...DOC.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!))].filter(
      (w) => !table.has(w) && !enumValues.has(w) && !other.has(w) && !w.startsWith('VEIL_'),
    );
    expect(unknown).toEqual([]);
  });

  it('links only to docs and headings that exist', () => {
    const broken: string[] = [];
    for (const m of DOC.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      const [file, anchor] = target.split('#') as [string, string | undefined];
      let text: string;
      try {
        text = file === '' ? DOC : readFileSync(join(DOCS, file), 'utf8');
      } catch {
        broken.push(`${target}: no such file in docs/`);
        continue;
      }
      if (anchor !== undefined && !anchors(text).has(anchor)) broken.push(`${target}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  it('is linked from README.md', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').includes('](docs/graphql-api.md)')).toBe(true);
  });
});

// A server consumer's TypeScript file (Node, no DOM lib), type-checked by
// test/package/consumer.test.ts against the installed package's .d.ts with strict settings
// (strict, exactOptionalPropertyTypes, noPropertyAccessFromIndexSignature, skipLibCheck
// false). It names each entry point a server uses and a few of its types, the way an app
// does. Inside the repository it resolves to src/ (tsconfig paths) and is checked by
// `npm run typecheck` too. The browser's entry point: ./browser.ts.
import { base64urlEncode, nobleBackend, type CryptoBackend } from 'veilgraph/crypto';
import { nodeBackend } from 'veilgraph/crypto/node';
import { PRIVACY_LEVELS, isSealedLevel, type PrivacyLevel } from 'veilgraph/privacy';
import { createVeilgraph, openStore, requireViewer, signIn, type VeilContext, type VeilgraphOptions } from 'veilgraph/server';
import { FileKeyStore } from 'veilgraph/client/node';

export const backends: readonly CryptoBackend[] = [nobleBackend, nodeBackend];
export const encoded: string = base64urlEncode(new Uint8Array([1, 2, 3]));

export const sealedLevels: PrivacyLevel[] = PRIVACY_LEVELS.filter((l) => isSealedLevel(l));

export const options: VeilgraphOptions = {
  typeDefs: 'type Note { id: ID! body: String @privacy(level: PRIVATE) }',
  services: [signIn()],
  dataDir: './veilgraph-data',
};

export function viewerId(ctx: VeilContext): string {
  return requireViewer(ctx).id;
}

export const store: FileKeyStore = new FileKeyStore('./keys.json');
export const starters = { createVeilgraph, openStore } as const;

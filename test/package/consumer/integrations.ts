// A consumer of the client integrations whose libraries are optional peer dependencies
// (`veilgraph/client/apollo` needs @apollo/client and rxjs, `veilgraph/client/urql` needs
// @urql/core and wonka), type-checked by test/package/consumer.test.ts in a project that
// installs those libraries beside the tarball. ./browser.ts is checked without them.
import { ApolloLink, HttpLink } from '@apollo/client';
import { cacheExchange, fetchExchange, type Exchange } from '@urql/core';
import { createPrivacyLink, type PrivacyLinkOptions } from 'veilgraph/client/apollo';
import { veilExchange } from 'veilgraph/client/urql';

export const apolloLink = (options: PrivacyLinkOptions): ApolloLink => ApolloLink.from([createPrivacyLink(options), new HttpLink({ uri: '/graphql' })]);
export const urqlExchanges = (options: PrivacyLinkOptions): Exchange[] => [cacheExchange, veilExchange(options), fetchExchange];

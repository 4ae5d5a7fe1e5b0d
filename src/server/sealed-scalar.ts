/**
 * @module
 * The `Sealed` scalar on the server: passes envelopes through untouched and refuses, with
 * BAD_SEALED_VALUE, anything that is not shaped like one (plaintext from a client that
 * forgot to seal, wrong types, oversized values). The check is length and prefix only;
 * see src/privacy/sealed-value.ts.
 */
import { GraphQLScalarType, Kind } from 'graphql';
import { sealedShapeProblem } from '../privacy/sealed-value.js';
import { CodedInputError } from './errors.js';

export function createSealedScalar(maxBytes: number): GraphQLScalarType {
  const check = (value: unknown): string => {
    const problem = sealedShapeProblem(value, { maxBytes });
    if (problem) throw new CodedInputError('BAD_SEALED_VALUE', problem);
    return value as string;
  };
  return new GraphQLScalarType({
    name: 'Sealed',
    description: 'An end-to-end encrypted value: envelope v1 as strict base64url (docs/crypto.md).',
    serialize: (v) => v,
    parseValue: check,
    parseLiteral: (ast) => check(ast.kind === Kind.STRING ? ast.value : undefined),
  });
}

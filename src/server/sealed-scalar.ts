/**
 * @module
 * The `Sealed` scalar on the server: passes envelopes through untouched and refuses, with
 * BAD_SEALED_VALUE, anything that is not shaped like one (plaintext from a client that
 * forgot to seal, wrong types, oversized values). The check is length and prefix only;
 * see src/privacy/sealed-value.ts.
 *
 * Values arrive two ways. Variables go through `parseValue`, which checks the shape.
 * Literals written into the document are checked by `createSealedLiteralRule`, a
 * validation rule that knows which argument or input field a literal belongs to and so
 * can name it (graphql-js's own literal check cannot); `parseLiteral` then only insists
 * on a string.
 */
import {
  GraphQLError,
  GraphQLScalarType,
  Kind,
  getNamedType,
  type ASTVisitor,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
} from 'graphql';
import { sealedShapeProblem } from '../privacy/sealed-value.js';
import { CodedInputError } from './errors.js';

/** Largest accepted sealed value (binary); a request's body limit bounds a whole request. */
export const MAX_SEALED_BYTES = 1024 * 1024;

export function createSealedScalar(maxBytes: number): GraphQLScalarType {
  return new GraphQLScalarType({
    name: 'Sealed',
    description: 'An end-to-end encrypted value: envelope v1 as strict base64url (docs/crypto.md).',
    serialize: (v) => v,
    parseValue: (value) => {
      const problem = sealedShapeProblem(value, { maxBytes });
      if (problem) throw new CodedInputError('BAD_SEALED_VALUE', problem);
      return value as string;
    },
    parseLiteral: (ast) => {
      if (ast.kind !== Kind.STRING) throw new CodedInputError('BAD_SEALED_VALUE', 'expected a sealed envelope (string)');
      return ast.value;
    },
  });
}

export function createSealedLiteralRule(maxBytes: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const check = (value: ValueNode, where: string): void => {
      if (value.kind === Kind.VARIABLE || value.kind === Kind.NULL) return;
      const problem = sealedShapeProblem(value.kind === Kind.STRING ? value.value : 0, { maxBytes });
      if (problem) {
        context.reportError(new GraphQLError(`${where}: ${problem}`, { nodes: [value], extensions: { code: 'BAD_SEALED_VALUE', field: where } }));
      }
    };
    return {
      Argument(node) {
        const arg = context.getArgument();
        const field = context.getFieldDef();
        const parent = context.getParentType();
        if (arg && getNamedType(arg.type).name === 'Sealed' && field && parent) check(node.value, `${parent.name}.${field.name}(${arg.name})`);
      },
      ObjectField(node) {
        const input = context.getParentInputType();
        const named = input ? getNamedType(input) : undefined;
        const type = context.getInputType();
        if (named && type && getNamedType(type).name === 'Sealed') check(node.value, `${named.name}.${node.name.value}`);
      },
    };
  };
}

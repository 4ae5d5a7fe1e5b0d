/**
 * @module
 * The schema as it travels: every SHARED and PRIVATE field and input field becomes the
 * `Sealed` scalar (one envelope for the whole value, lists included, so even a list's
 * length is hidden up to padding). Outer non-null is kept: `String!` → `Sealed!`,
 * `[String!]` → `Sealed`. SERVER and PUBLIC fields keep their types: the gateway
 * decrypts SERVER values for authorized viewers.
 */
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  GraphQLError,
  GraphQLNonNull,
  isNonNullType,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLScalarType,
  type GraphQLSchema,
} from 'graphql';
import { isSealedLevel } from './levels.js';
import { sealedInterfaceFields, type PrivacyManifest } from './manifest.js';

function sealedType(original: GraphQLOutputType | GraphQLInputType, sealed: GraphQLScalarType): GraphQLScalarType | GraphQLNonNull<GraphQLScalarType> {
  return isNonNullType(original) ? new GraphQLNonNull(sealed) : sealed;
}

/** Rewrites sealed fields to `Sealed`. The schema must already define the `Sealed` scalar. */
export function toWireSchema(schema: GraphQLSchema, manifest: PrivacyManifest): GraphQLSchema {
  const sealed = schema.getType('Sealed') as GraphQLScalarType | undefined;
  if (!sealed) throw new GraphQLError('the schema has no Sealed scalar: include PRIVACY_SDL');
  const sealedInterfaces = sealedInterfaceFields(schema, manifest);
  return mapSchema(schema, {
    [MapperKind.INTERFACE_FIELD]: (config, fieldName, typeName) => {
      if (!sealedInterfaces.has(`${typeName}.${fieldName}`)) return config;
      return { ...config, type: sealedType(config.type, sealed) };
    },
    [MapperKind.OBJECT_FIELD]: (config, fieldName, typeName) => {
      const level = manifest.objects[typeName]?.fields[fieldName]?.level;
      if (!level || !isSealedLevel(level)) return config;
      return { ...config, type: sealedType(config.type, sealed) };
    },
    [MapperKind.INPUT_OBJECT_FIELD]: (config, fieldName, typeName) => {
      const level = manifest.inputs[typeName]?.fields[fieldName]?.level;
      if (!level || !isSealedLevel(level)) return config;
      return { ...config, type: sealedType(config.type, sealed) };
    },
  });
}

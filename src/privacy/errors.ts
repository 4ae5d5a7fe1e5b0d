/**
 * A schema that cannot be enforced as written. Thrown while building the manifest, so a
 * misannotated schema fails at start-up (and in codegen), never at request time.
 */
export class PrivacySchemaError extends Error {
  override readonly name = 'PrivacySchemaError';
  readonly code = 'PRIVACY_SCHEMA_INVALID';
  /** Every problem found, each naming its schema coordinate. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`the schema's @privacy annotations cannot be enforced:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

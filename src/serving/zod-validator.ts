import type { FastifySchemaCompiler } from 'fastify';
import { toJSONSchema, type z } from 'zod';

/** One validation failure in the shape fastify's error handler reads (`error.validation[i]`), as Ajv reports it. */
export interface ValidationEntry {
  /** JSON pointer of the failing value (`/candidates/1`); empty for the whole part. */
  instancePath: string;
  /** Ajv's wording (`must be integer`, `must NOT have fewer than 1 characters`). */
  message: string;
  /** For a missing or unexpected property, its name. */
  params: { missingProperty?: string; additionalProperty?: string };
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
};
type Issue = z.core.$ZodIssue;

/** The JSON schema at `path` under `schema` (object properties and array items), if there is one. */
function schemaAt(
  schema: JsonSchema | undefined,
  path: readonly PropertyKey[],
): JsonSchema | undefined {
  let at = schema;
  for (const key of path) {
    if (at === undefined) return undefined;
    at = step(at, key) ?? at.anyOf?.map((branch) => step(branch, key)).find((s) => s !== undefined);
  }
  return at;
}

/** The schema of `key` (an item index or a property name) directly under `at`. */
function step(at: JsonSchema, key: PropertyKey): JsonSchema | undefined {
  if (typeof key === 'number') return at.items;
  return (
    at.properties?.[String(key)] ??
    (typeof at.additionalProperties === 'object' ? at.additionalProperties : undefined)
  );
}

function pointer(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '' : `/${path.map(String).join('/')}`;
}

/**
 * One zod issue in Ajv's words, so that the API's 400s read the same whichever validator checked
 * the route (`body parameter k: must be integer`). `json` is the route part's JSON schema (from
 * zod), which knows what zod's issue does not say: that a number had to be an integer, or the
 * whole list of types a value may take.
 */
function toEntry(issue: Issue, json: JsonSchema, input: unknown): ValidationEntry {
  const at = pointer(issue.path);
  switch (issue.code) {
    case 'invalid_union': {
      // A value of none of several types (`string | number`): Ajv checks a type list at once.
      const branches = issue.errors;
      if (
        branches.length > 0 &&
        branches.every(
          (b) => b.length === 1 && b[0]!.code === 'invalid_type' && b[0]!.path.length === 0,
        )
      ) {
        const type = schemaAt(json, issue.path)?.type;
        const expected =
          type === undefined
            ? branches.map((b) => (b[0] as { expected: string }).expected).join(',')
            : [type].flat().join(',');
        return { instancePath: at, message: `must be ${expected}`, params: {} };
      }
      // Ajv's anyOf reports the first branch's first failure first.
      const first = branches[0]?.[0];
      if (first === undefined) return { instancePath: at, message: issue.message, params: {} };
      return toEntry({ ...first, path: [...issue.path, ...first.path] } as Issue, json, input);
    }
    case 'invalid_type': {
      const parentPath = issue.path.slice(0, -1);
      const name = issue.path.at(-1);
      if (typeof name === 'string' && valueAt(input, issue.path) === undefined) {
        return {
          instancePath: pointer(parentPath),
          message: `must have required property '${name}'`,
          params: { missingProperty: name },
        };
      }
      const type = schemaAt(json, issue.path)?.type;
      const expected =
        type === undefined
          ? issue.expected === 'int'
            ? 'integer'
            : issue.expected
          : [type].flat().join(',');
      return { instancePath: at, message: `must be ${expected}`, params: {} };
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const unit =
        issue.origin === 'string'
          ? 'characters'
          : issue.origin === 'array'
            ? 'items'
            : issue.origin === 'object'
              ? 'properties'
              : null;
      if (unit !== null)
        return {
          instancePath: at,
          message: `must NOT have ${issue.code === 'too_small' ? 'fewer' : 'more'} than ${String(bound)} ${unit}`,
          params: {},
        };
      const op =
        issue.code === 'too_small'
          ? issue.inclusive === false
            ? '>'
            : '>='
          : issue.inclusive === false
            ? '<'
            : '<=';
      return { instancePath: at, message: `must be ${op} ${String(bound)}`, params: {} };
    }
    case 'unrecognized_keys':
      return {
        instancePath: at,
        message: 'must NOT have additional properties',
        params: { additionalProperty: issue.keys[0] ?? '' },
      };
    case 'invalid_value':
      return {
        instancePath: at,
        message: 'must be equal to one of the allowed values',
        params: {},
      };
    case 'invalid_format': {
      if (issue.format !== 'regex')
        return { instancePath: at, message: `must match format "${issue.format}"`, params: {} };
      // zod gives the RegExp's text (`/^a+$/`); Ajv names the pattern's source.
      const pattern = String((issue as { pattern?: string }).pattern ?? '').replace(
        /^\/(.*)\/[a-z]*$/s,
        '$1',
      );
      return { instancePath: at, message: `must match pattern "${pattern}"`, params: {} };
    }
    default:
      return { instancePath: at, message: issue.message, params: {} };
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let at = input;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/**
 * fastify's validator compiler for zod route schemas (with `fastify-type-provider-zod`'s
 * `ZodTypeProvider` for the handler's types): parses each request part with its zod schema and
 * hands the parsed value (defaults applied) to the handler. A failure is reported like Ajv's
 * (`error.validation` entries with `instancePath`, `params` and Ajv's messages), first issue
 * first, so the app's error handler words every 400 the same way. Nothing is coerced here:
 * a query-string schema that takes numbers says so with `z.coerce`, a JSON body never does.
 *
 * @example
 * app.withTypeProvider<ZodTypeProvider>().post('/v1/tags/suggest', { schema, validatorCompiler: zodValidatorCompiler, serializerCompiler }, handler);
 */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema }) => {
  const json = toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return (data) => {
    const result = schema.safeParse(data);
    if (result.success) return { value: result.data };
    // The same shape as @fastify/ajv-compiler's errors: fastify wraps it into error.validation.
    return { error: result.error.issues.map((issue) => toEntry(issue, json, data)) as never };
  };
};

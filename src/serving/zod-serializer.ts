import fastJson from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify';
import { toJSONSchema, type z } from 'zod';

/** A zod schema as the JSON Schema (draft 7) of what it outputs, without `$schema`. */
export function outputJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...json } = toJSONSchema(schema, {
    io: 'output',
    target: 'draft-7',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return json;
}

/**
 * fastify's serializer compiler for zod response schemas: the schema becomes JSON Schema and is
 * compiled by `fast-json-stringify`, as fastify does with JSON-schema routes. So answers are
 * written as fast as before, properties a schema does not list are left out, a `Date` where a
 * string belongs is its ISO-8601 text, and a number where a string belongs (an item id from a
 * store that keeps numbers) is its decimal string: ids are strings at the boundary whatever the
 * store hands back. Nothing is parsed with zod on the way out (a zod parse would refuse such an
 * id and would cost a parse per answer on the hot path).
 *
 * @example
 * app.setSerializerCompiler(zodSerializerCompiler);
 */
export const zodSerializerCompiler: FastifySerializerCompiler<z.ZodType> = ({ schema }) =>
  fastJson(outputJsonSchema(schema) as unknown as fastJson.Schema) as (data: unknown) => string;

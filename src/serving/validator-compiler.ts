import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler';

/**
 * fastify's validator factory with type coercion only where the text has no types: query
 * strings, path parameters and headers (`?k=3` is the number 3), never JSON bodies, which must
 * carry the types their schema states (`{"k":"3"}` and `{"text":123}` are 400s naming the field,
 * not silently converted). The options are fastify's (`ajv.customOptions`), with `coerceTypes`
 * turned off for bodies.
 *
 * @example
 * Fastify({ ajv: { customOptions: { coerceTypes: true } }, schemaController: { compilersFactory: { buildValidator: textOnlyCoercion } } });
 */
export const textOnlyCoercion: ValidatorFactory = (externalSchemas, options) => {
  const pool = AjvCompiler();
  const coercing = pool(externalSchemas, options);
  const strict = pool(externalSchemas, {
    ...options,
    customOptions: { ...options?.customOptions, coerceTypes: false },
  } as typeof options);
  return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route));
};

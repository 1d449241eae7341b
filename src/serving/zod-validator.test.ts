import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { zodValidatorCompiler, type ValidationEntry } from './zod-validator.js';

/** The first failure of `schema` on `data`, as the app's error handler reads it. */
function firstFailure(schema: z.ZodType, data: unknown): ValidationEntry | undefined {
  const validate = zodValidatorCompiler({ schema, method: 'POST', url: '/x', httpPart: 'body' });
  const result = validate(data) as { error?: ValidationEntry[]; value?: unknown };
  return result.error?.[0];
}

describe('zodValidatorCompiler', () => {
  const body = z.strictObject({
    text: z.string().min(1).max(3),
    k: z.int().min(1).max(100).default(5),
    kind: z.enum(['a', 'b']).optional(),
    ids: z.array(z.string()).min(1).optional(),
    name: z
      .string()
      .regex(/^[a-z]+$/)
      .optional(),
    either: z.union([z.string(), z.number()]).optional(),
  });

  it('passes the parsed value on, defaults applied and nothing coerced', () => {
    const validate = zodValidatorCompiler({
      schema: body,
      method: 'POST',
      url: '/x',
      httpPart: 'body',
    });
    expect(validate({ text: 'ab' })).toEqual({ value: { text: 'ab', k: 5 } });
    expect(firstFailure(body, { text: 'ab', k: '3' })).toMatchObject({
      instancePath: '/k',
      message: 'must be integer',
    });
  });

  it('words each failure as Ajv does, naming the field', () => {
    const cases: [unknown, Partial<ValidationEntry>][] = [
      [{ text: '' }, { instancePath: '/text', message: 'must NOT have fewer than 1 characters' }],
      [
        { text: 'abcd' },
        { instancePath: '/text', message: 'must NOT have more than 3 characters' },
      ],
      [
        { text: 'a', k: 0 },
        { instancePath: '/k', message: 'must be >= 1' },
      ],
      [
        { text: 'a', k: 101 },
        { instancePath: '/k', message: 'must be <= 100' },
      ],
      [
        { text: 'a', k: 1.5 },
        { instancePath: '/k', message: 'must be integer' },
      ],
      [{ text: 7 }, { instancePath: '/text', message: 'must be string' }],
      [
        { txt: 'a' },
        {
          instancePath: '',
          message: "must have required property 'text'",
          params: { missingProperty: 'text' },
        },
      ],
      [
        { text: 'a', extra: 1 },
        {
          instancePath: '',
          message: 'must NOT have additional properties',
          params: { additionalProperty: 'extra' },
        },
      ],
      [
        { text: 'a', kind: 'c' },
        { instancePath: '/kind', message: 'must be equal to one of the allowed values' },
      ],
      [
        { text: 'a', ids: [] },
        { instancePath: '/ids', message: 'must NOT have fewer than 1 items' },
      ],
      [
        { text: 'a', ids: ['x', 2] },
        { instancePath: '/ids/1', message: 'must be string' },
      ],
      [
        { text: 'a', name: 'A1' },
        { instancePath: '/name', message: 'must match pattern "^[a-z]+$"' },
      ],
    ];
    for (const [data, expected] of cases)
      expect(firstFailure(body, data), JSON.stringify(data)).toMatchObject(expected);
  });
});

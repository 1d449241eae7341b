import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { zodSerializerCompiler } from './zod-serializer.js';

function serializer(schema: z.ZodType): (data: unknown) => string {
  return zodSerializerCompiler({ schema, method: 'GET', url: '/x', httpStatus: '200' });
}

describe('zodSerializerCompiler', () => {
  it('writes a numeric id where the schema says string as its decimal string', () => {
    const write = serializer(
      z.object({ items: z.array(z.object({ id: z.string(), score: z.number() })) }),
    );
    expect(
      write({
        items: [
          { id: 589, score: 0.5 },
          { id: 'a', score: 1 },
        ],
      }),
    ).toBe('{"items":[{"id":"589","score":0.5},{"id":"a","score":1}]}');
  });

  it('leaves out what the schema does not list, writes dates as ISO-8601 and nulls as null', () => {
    const write = serializer(
      z.object({
        at: z.string(),
        rate: z.number().nullable(),
        meta: z.record(z.string(), z.unknown()),
      }),
    );
    const answer = JSON.parse(
      write({
        at: new Date('2026-01-02T03:04:05.000Z'),
        rate: null,
        meta: { nested: [1, 'x'] },
        secret: 'not listed',
      }),
    );
    expect(answer).toEqual({
      at: '2026-01-02T03:04:05.000Z',
      rate: null,
      meta: { nested: [1, 'x'] },
    });
  });
});

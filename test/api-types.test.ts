import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE, generateApiTypes } from '../web/scripts/gen-api-types.js';

describe('web/src/api-types.ts', () => {
  it('is what `npm run gen:api-types` generates from the current route schemas', async () => {
    const committed = await readFile(API_TYPES_FILE, 'utf8');
    // A difference means a route schema changed: run `npm run gen:api-types` and commit the result.
    expect(
      committed === (await generateApiTypes()),
      'web/src/api-types.ts is stale: run npm run gen:api-types',
    ).toBe(true);
  }, 60_000);
});

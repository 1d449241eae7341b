import { createHmac } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Pseudonymiser,
  generatePseudonymKey,
  keyFingerprint,
  readPseudonymKey,
} from './pseudonyms.js';

describe('pseudonyms', () => {
  it('are HMAC-SHA-256 over recipient and value, 128 bits in base64url', async () => {
    const text = generatePseudonymKey();
    const key = await readPseudonymKey('env:K', { K: text });
    expect(key.length).toBe(32);
    const p = new Pseudonymiser(key, 'ads');
    const expected = createHmac('sha256', key)
      .update('ads\u0000user-42')
      .digest()
      .subarray(0, 16)
      .toString('base64url');
    expect(p.pseudonym('user-42')).toBe(expected);
    expect(p.pseudonym('user-42')).toHaveLength(22);
    // Deterministic per key and recipient; different across recipients and keys.
    expect(p.pseudonym('user-42')).toBe(new Pseudonymiser(key, 'ads').pseudonym('user-42'));
    expect(p.pseudonym('user-42')).not.toBe(new Pseudonymiser(key, 'bi').pseudonym('user-42'));
    const other = await readPseudonymKey('env:K', { K: generatePseudonymKey() });
    expect(p.pseudonym('user-42')).not.toBe(new Pseudonymiser(other, 'ads').pseudonym('user-42'));
    expect(keyFingerprint(key)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyFingerprint(key)).not.toBe(keyFingerprint(other));
  });

  it('reads keys from files in base64, base64url or hex', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-key-'));
    const raw = Buffer.alloc(32, 7);
    for (const text of [raw.toString('base64'), raw.toString('base64url'), raw.toString('hex')]) {
      await writeFile(join(dir, 'k'), `${text}\n`);
      expect(await readPseudonymKey(`file:${join(dir, 'k')}`)).toEqual(raw);
    }
  });

  it('refuses missing and short keys without echoing them', async () => {
    await expect(readPseudonymKey('env:NOPE', {})).rejects.toThrow(
      /pseudonyms\.key: the environment variable NOPE is not set/,
    );
    const short = Buffer.alloc(16, 1).toString('base64url');
    const error = await readPseudonymKey('env:K', { K: short }).catch((e: Error) => e);
    expect(String(error)).toMatch(/16 bytes; at least 32/);
    expect(String(error)).not.toContain(short);
    await expect(readPseudonymKey('file:/nonexistent/key')).rejects.toThrow(/cannot read/);
  });
});

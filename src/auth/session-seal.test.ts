import { describe, expect, it } from 'vitest';
import { parseCookies, serializeCookie } from './session-cookies.js';
import { Sealer } from './session-seal.js';

const SECRET = 'a-session-secret-of-at-least-32-characters';

describe('Sealer', () => {
  it('opens what it sealed until it expires, and hides the content', () => {
    let now = 1_000_000;
    const sealer = new Sealer(SECRET, () => now);
    const sealed = sealer.seal('session', { email: 'ada@example.com' }, 60);
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(sealed, 'base64url').toString('latin1')).not.toContain('ada@');
    expect(sealer.unseal('session', sealed)).toEqual({ email: 'ada@example.com' });
    // Another process with the same secret opens it too.
    expect(new Sealer(SECRET, () => now).unseal('session', sealed)).toEqual({
      email: 'ada@example.com',
    });
    now += 61_000;
    expect(sealer.unseal('session', sealed)).toBeNull();
  });

  it('refuses an altered seal, another purpose, another secret and garbage', () => {
    const sealer = new Sealer(SECRET);
    const sealed = sealer.seal('session', { admin: false }, 60);
    const bytes = Buffer.from(sealed, 'base64url');
    bytes[14] = (bytes[14] ?? 0) ^ 1;
    expect(sealer.unseal('session', bytes.toString('base64url'))).toBeNull();
    expect(sealer.unseal('login', sealed)).toBeNull();
    expect(new Sealer(`${SECRET}-other`).unseal('session', sealed)).toBeNull();
    expect(new Sealer(undefined).unseal('session', sealed)).toBeNull();
    expect(sealer.unseal('session', 'not-a-seal')).toBeNull();
  });
});

describe('cookies', () => {
  it('parses a Cookie header, first value of a name winning', () => {
    expect(parseCookies('a=1; kiban_session=x_y-z; a=2; b="q%20r"; junk; =v')).toEqual({
      a: '1',
      kiban_session: 'x_y-z',
      b: 'q r',
    });
    expect(parseCookies(undefined)).toEqual({});
  });

  it('writes the attributes asked for', () => {
    expect(serializeCookie('s', 'v', { httpOnly: true, secure: true, maxAge: 60 })).toBe(
      's=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax',
    );
    expect(serializeCookie('c', 'v', { httpOnly: false, secure: false, path: '/auth' })).toBe(
      'c=v; Path=/auth; SameSite=Lax',
    );
  });
});

import { useEffect, useState } from 'react';
import { api } from '../api.js';
import type { Me } from '../types.js';

/**
 * "signed in as …" in the top bar, from `GET /v1/me`; nothing when no one is signed in (a 401) or
 * the server has no such route. A developer signed in through the login can log out here.
 */
export function SignedIn() {
  const [me, setMe] = useState<Me | null>(null);
  useEffect(() => {
    let live = true;
    api.me().then(
      (found) => live && setMe(found),
      () => live && setMe(null),
    );
    return () => {
      live = false;
    };
  }, []);
  if (me === null) return null;
  return (
    <span className="signed-in" data-testid="signed-in" title={me.scopes.join(', ') || 'no scopes'}>
      signed in as <strong>{me.name}</strong>
      {me.method === 'session' ? (
        <button
          type="button"
          className="link-button"
          onClick={() => void api.logout().finally(() => window.location.reload())}
        >
          log out
        </button>
      ) : null}
    </span>
  );
}

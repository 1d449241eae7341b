import type { UserStateStore } from '../storage/user-state-store.js';

/**
 * Opens the user state store that goes with a service's serving store URL (`memory:`,
 * `sqlite:PATH`, `redis://…[?prefix=P]`), in the same namespace.
 * TODO(issue 22): not yet written.
 */
export async function openUserStateStore(servingUrl: string): Promise<UserStateStore> {
  throw new Error(`no user state store for ${servingUrl.split(':')[0]}: not yet written`);
}

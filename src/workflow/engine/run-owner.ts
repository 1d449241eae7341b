import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * An id for a process that drives runs: `host/pid/nonce`. The host and pid let a process on
 * the same machine tell at once that a run's owner has died (rather than waiting out a lease);
 * the nonce keeps two engines in one process apart.
 */
export function newOwnerId(): string {
  return `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
}

/**
 * Whether an owner is certainly dead: it ran on this host and its process is gone. Owners on
 * other hosts are unknown (false); for them the heartbeat lease decides.
 */
export function ownerIsDeadHere(owner: string): boolean {
  const [host, pidText] = owner.split('/');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

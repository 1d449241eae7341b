/**
 * The bandit store opener, kept at this path for its importers; the scheme table itself is in
 * `backends.ts`, the only place a URL becomes a backend.
 *
 * @module
 */
export { openBanditStore } from './backends.js';

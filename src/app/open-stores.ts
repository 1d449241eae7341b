/**
 * The serving and metadata store openers, kept at this path for their many importers; the scheme
 * table itself is in `backends.ts`, the only place a URL becomes a backend.
 *
 * @module
 */
export { openMetadataStore, openServingStore } from './backends.js';

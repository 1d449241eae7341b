/** `bundledPath`, kept at this path for its importers; it lives in `app/paths.ts`. @module */
export { bundledPath } from '../app/paths.js';

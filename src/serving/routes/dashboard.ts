import type { FastifyInstance, FastifyReply } from 'fastify';
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { NotReadyError } from '../../core/errors.js';

/** Content types of the files a Vite build emits. */
const TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
});

/** Options of {@link dashboardRoutes}. */
export interface DashboardRoutesOptions {
  /** Directory of the built dashboard (`npm run build:web`). */
  webRoot: string;
}

/**
 * Client-side routes of the dashboard: the server answers them with index.html. Public (the
 * page, not its data) and not part of the API document; tests derive both lists from this one.
 */
export const DASHBOARD_CLIENT_ROUTES: readonly string[] = [
  '/',
  '/workflows',
  '/workflows/*',
  '/runs',
  '/runs/*',
  '/bandits',
  '/bandits/*',
  '/experiments',
  '/experiments/*',
  '/features',
  '/features/*',
  '/services',
  '/services/*',
  '/audit',
];

/**
 * Serves the built dashboard from `webRoot` (the output of `npm run build:web`): `index.html`
 * for `/` and the client routes (`/workflows/…`, `/runs/…`, `/bandits/…`, `/experiments/…`, `/features/…`, `/services/…`, `/audit`, history routing), and the files
 * under `/assets/`. Vite names assets by content hash, so they are cached for a year; index.html
 * is never cached, so a new build shows up on reload. When `webRoot` has no index.html (the
 * dashboard was not built) those routes answer 503 saying how to build it; the API is unaffected.
 * A fastify plugin.
 */
export async function dashboardRoutes(
  app: FastifyInstance,
  { webRoot }: DashboardRoutesOptions,
): Promise<void> {
  const root = resolve(webRoot);

  const sendIndex = async (reply: FastifyReply) => {
    const html = await readFile(resolve(root, 'index.html')).catch(() => null);
    if (html === null)
      throw new NotReadyError(
        `the dashboard is not built (no ${resolve(root, 'index.html')}); run "npm run build:web"`,
      );
    return reply.type(TYPES['.html']!).header('cache-control', 'no-cache').send(html);
  };
  // Static files, not API: left out of `/openapi.json`.
  for (const url of DASHBOARD_CLIENT_ROUTES)
    app.get(url, { schema: { hide: true }, config: { public: true } }, async (_request, reply) =>
      sendIndex(reply),
    );

  app.get<{ Params: { '*': string } }>(
    '/assets/*',
    { schema: { hide: true }, config: { public: true } },
    async (request, reply) => {
      const file = resolve(root, 'assets', request.params['*']);
      // resolve() has already folded any "..": whatever is left must stay inside the web root.
      if (!file.startsWith(root + sep))
        return reply.status(404).send({ code: 'NOT_FOUND', message: `no file ${request.url}` });
      const info = await stat(file).catch(() => null);
      if (info === null || !info.isFile())
        return reply
          .status(404)
          .send({ code: 'NOT_FOUND', message: `no file ${request.url.split('?')[0]}` });
      return reply
        .type(TYPES[extname(file)] ?? 'application/octet-stream')
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(await readFile(file));
    },
  );
}

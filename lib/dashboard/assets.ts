/**
 * The dashboard page's files (the bundled script and style sheet), built by `npm run build` into
 * `dist/dashboard/`. They are read into memory when the server starts, and served by exact name
 * only: no request path ever reaches the file system.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { ValidationError } from '../errors.js';
import { packageRoot } from '../util/package-root.js';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** A file of the page. */
export interface Asset {
  body: Buffer;
  type: string;
}

/** Where `npm run build` puts the page: `<package>/dist/dashboard`. */
export function defaultAssetsDir(): string {
  return join(packageRoot(), 'dist', 'dashboard');
}

/**
 * Reads the page's files.
 *
 * @param dir - the bundle's folder; default {@link defaultAssetsDir}
 * @throws ValidationError when the page was not built (no app.js), with the command that builds it
 */
export function loadAssets(dir = defaultAssetsDir()): Map<string, Asset> {
  if (!existsSync(join(dir, 'app.js'))) {
    throw new ValidationError(`the dashboard page is not built (${join(dir, 'app.js')} is missing): run \`npm run build\` in ${packageRoot()}`);
  }
  const out = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) out.set(name, { body: readFileSync(join(dir, name)), type });
  }
  return out;
}

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The folder of nasnet's package.json, found by walking up from this module. Works from the
 * TypeScript sources (`lib/`) and from the compiled output (`dist/lib/`).
 *
 * @example
 * const root = packageRoot(); // '/home/me/project/node_modules/nasnet'
 */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native', 'sources.json'))) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`nasnet: cannot find the package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

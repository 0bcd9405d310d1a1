/**
 * The one typed facade over the native addon. Everything else imports {@link binding}; this is the
 * only place where an untyped `require` result is cast to the declared {@link Binding} interface.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Binding } from './binding-types.js';
import { AddonLoadError } from './errors.js';
import { packageRoot } from './util/package-root.js';

/** Where the addon may be, in the order tried. `NASNET_ADDON` (a file path) comes first when set. */
export function addonCandidates(root: string = packageRoot()): string[] {
  const list: string[] = [];
  if (process.env.NASNET_ADDON) list.push(process.env.NASNET_ADDON);
  list.push(join(root, 'build', 'Release', 'nasnet.node'), join(root, 'build', 'Debug', 'nasnet.node'));
  return list;
}

/**
 * Loads the addon from the first candidate that loads. When none does, throws one
 * {@link AddonLoadError} that lists every path tried, why it failed, and how to fix it.
 *
 * @param candidates - paths to try (default {@link addonCandidates})
 */
export function loadBinding(candidates: string[] = addonCandidates()): Binding {
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const path of candidates) {
    if (!existsSync(path)) {
      failures.push(`  ${path}: not found`);
      continue;
    }
    try {
      return require(path) as Binding;
    } catch (err) {
      const cause = err instanceof Error ? err.message.split('\n')[0] : String(err);
      failures.push(`  ${path}: ${cause}`);
    }
  }
  throw new AddonLoadError(
    [
      'nasnet: the native addon could not be loaded. Tried:',
      ...failures,
      'Fix: run `npm rebuild nasnet` (or `npm run build:native` in a checkout). Building needs CMake >= 3.20,',
      'a C++17 compiler (g++ or clang++) and, for CUDA kernels, nvcc on the PATH or in /usr/local/cuda.',
      'A file that exists but fails to load was built for another Node.js, platform or CPU: rebuild it.',
    ].join('\n'),
  );
}

let loaded: Binding | undefined;

/** The addon, loaded on first use (importing nasnet has no side effects). */
export function binding(): Binding {
  loaded ??= loadBinding();
  return loaded;
}

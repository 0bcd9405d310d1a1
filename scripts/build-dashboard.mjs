#!/usr/bin/env node
// Bundles the dashboard page (lib/dashboard/client: Preact, Observable Plot, its style sheet) with
// esbuild into one script and one style sheet, so `nasnet dashboard` serves a page that needs
// nothing from the network. Run by `npm run build` (and so by `npm ci` / `npm install` through
// `prepare`); the output is not committed.
//
//   node scripts/build-dashboard.mjs [--out DIR]     (default: dist/dashboard)
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({ options: { out: { type: 'string', default: join(root, 'dist', 'dashboard') } } });
const out = resolve(values.out);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const t0 = Date.now();
const result = await build({
  entryPoints: { app: join(root, 'lib', 'dashboard', 'client', 'main.tsx') },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
});
const bytes = Object.entries(result.metafile.outputs)
  .filter(([f]) => !f.endsWith('.map'))
  .map(([f, o]) => `${f.split('/').pop()} ${(o.bytes / 1024).toFixed(0)} KiB`);
process.stdout.write(`dashboard page: ${bytes.join(', ')} in ${out} (${Date.now() - t0} ms)\n`);

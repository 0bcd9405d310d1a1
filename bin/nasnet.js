#!/usr/bin/env node
// The `nasnet` command: runs the compiled CLI (dist/, built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/lib/cli/main.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('nasnet: dist/ is missing; run `npm run build` (or `npm install`) in the package folder\n');
  process.exit(1);
}
const { main } = await import(cli.href);
await main(process.argv);

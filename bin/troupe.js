#!/usr/bin/env node
// The `troupe` command: runs the compiled CLI (built by `npm install` through the package's prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/troupe.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write(
    'troupe: dist/ is missing; run `npm install` (or `npm run build`) in the troupe package first.\n',
  );
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));

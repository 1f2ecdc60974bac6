#!/usr/bin/env node
// The `aegis` command. Runs the TypeScript sources directly (Node 22.18+ strips types); in an image
// built without src/, the compiled dist/ instead.
import { existsSync } from 'node:fs';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `aegis needs Node.js 22.18 or later (this is ${process.versions.node}): run it as "npx aegis" in the project, which uses the project's Node 22\n`,
  );
  process.exit(1);
}

const source = new URL('../src/cli.ts', import.meta.url);
const compiled = new URL('../dist/cli.js', import.meta.url);
await import(existsSync(source) ? source.href : compiled.href);

import { runCli } from './cli/main.ts';
import { buildRuntime } from './compose.ts';

/** The `aegis` command's entry point (bin/aegis.js): the CLI with the real sources of compose.ts. */
await runCli(process.argv.slice(2), buildRuntime);

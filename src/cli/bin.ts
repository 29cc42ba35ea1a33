#!/usr/bin/env node
/**
 * The `virtkit` program: runs {@link main} on the process's arguments and
 * exits with its code. package.json's `bin` is this module bundled
 * (`scripts/bundle-cli.mjs`), so the command starts without resolving the
 * library's modules one by one.
 *
 * @module
 */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);

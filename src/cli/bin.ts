#!/usr/bin/env node
/** Starts the webgpu-cam command (main.ts); the package's "bin". */
import { main } from './main';

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);

#!/usr/bin/env node
/**
 * The `mailpush` command (package.json `bin`). Only `mailpush doctor` exists; see
 * {@link runDoctor} for the options.
 *
 * @module
 */

import { runDoctor } from './doctor.js';

process.exitCode = await runDoctor(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: process.stdout.isTTY === true,
  env: process.env,
});

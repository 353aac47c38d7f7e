#!/usr/bin/env node
// Runs a command as on a host without huge pages: THP is switched off for this process with
// prctl(PR_SET_THP_DISABLE), which its children inherit across fork and exec.
// Usage: node scripts/without-thp.js <command> [args...]
'use strict';
const { spawnSync } = require('node:child_process');
const { binding } = require('../dist/native/binding');

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: node scripts/without-thp.js <command> [args...]');
  process.exit(2);
}
binding.setThpDisabled(true);
const r = spawnSync(cmd, args, { stdio: 'inherit' });
if (r.error) {
  console.error(`without-thp: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status ?? 1);

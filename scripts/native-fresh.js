#!/usr/bin/env node
/**
 * `prepare` in a checkout: rebuild build/Release/hugespan.node when it is older than any C++
 * source or binding.gyp, or is a leftover sanitizer build. Why: the install script is
 * `node-gyp-build`, which keeps whatever addon already loads, so without this a checkout whose
 * native/*.cc changed since the last build would run a stale addon after `npm install`.
 * Invariant: does nothing when there is no local build (node-gyp-build at install made the
 * choice: a prebuild or a fresh source build), so it never needs a compiler on a user's host.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const addon = path.join(root, 'build', 'Release', 'hugespan.node');

function mtime(file) {
  return fs.statSync(file).mtimeMs;
}

if (!fs.existsSync(addon)) process.exit(0);
const sources = [path.join(root, 'binding.gyp'), ...fs.readdirSync(path.join(root, 'native')).filter((f) => /\.(cc|h)$/.test(f)).map((f) => path.join(root, 'native', f))];
const built = mtime(addon);
const newer = sources.filter((f) => mtime(f) > built);
// scripts/test-asan.sh rebuilds the normal addon on exit; if that was interrupted, the ASan
// build would be left behind and fail to load without the ASan runtime preloaded.
const sanitized = fs.readFileSync(addon).includes('__asan_init');
if (newer.length === 0 && !sanitized) process.exit(0);

const why = sanitized ? 'it is a sanitizer build' : `${path.relative(root, newer[0])}${newer.length > 1 ? ` and ${newer.length - 1} more` : ''} changed since it was built`;
console.error(`hugespan: rebuilding build/Release/hugespan.node: ${why}`);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const env = { ...process.env, HUGESPAN_SANITIZE: '' };
// Offline hosts: node-gyp downloads Node's headers unless nodedir is set; use installed ones.
if (!env.npm_config_nodedir && fs.existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
const r = spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit', env });
process.exit(r.status ?? 1);

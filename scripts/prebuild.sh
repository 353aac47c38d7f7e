#!/usr/bin/env bash
# npm run prebuildify — build the Node-API prebuild for this host into prebuilds/<platform>-<arch>/
# (node.napi.glibc.node or .musl.node), the file node-gyp-build picks when a user installs
# the package and no local build exists. One Node-API build serves every Node >= 20.
# Invariant: builds against the headers of the Node running it; on an offline host with Node's
# headers installed (/usr/include/node) node-gyp uses those instead of downloading them.
# prebuildify builds in build/ and moves the result out; the copy put back in build/Release keeps
# a checkout loading its local build (node-gyp-build prefers it), which scripts/native-fresh.js
# keeps current, rather than a prebuild that later C++ edits would leave stale.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then
  export npm_config_nodedir=/usr
fi
# The gyp condition reads HUGESPAN_SANITIZE; a prebuild must never be a sanitizer build.
export HUGESPAN_SANITIZE=
npx prebuildify --napi --strip --tag-libc "$@"
tuple="$(node -p 'process.platform + "-" + process.arch')"
mkdir -p build/Release
cp prebuilds/"$tuple"/*.node build/Release/hugespan.node
ls -l prebuilds/"$tuple"/

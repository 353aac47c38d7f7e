#!/usr/bin/env bash
# npm run test:pack — the package a user installs, tested as a user on a production host gets it:
# build this host's prebuild (npm run prebuildify), `npm pack`, check the tarball (what must be in
# it, what must not, its size), install it into an empty directory with no compiler, make,
# python or Node headers reachable, then run `npx hugespan report --pid <a child>` and
# `require('hugespan')` there.
# Invariant: the install must succeed without compiling: the PATH it runs with holds only node,
# npm, npx and sh (npm runs scripts with it), nodedir points at no headers, so any build attempt
# would fail for want of make/g++/python/headers; afterwards the installed package must have no
# build/ and must load its addon from prebuilds/. (npm_config_build_from_source is left unset:
# node-gyp-build reads it only to *force* a build, "false" forbids nothing, and npm 11 warns
# about it as an unknown config.)
# HUGESPAN_PACK_PREBUILT=1 (CI): use the prebuilds/ already present (downloaded artifacts) instead
# of building one, and require linux-x64 and linux-arm64 in the tarball.
# Writes only into a mktemp directory under /tmp, removed on exit with the child it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

tuple="$(node -p 'process.platform + "-" + process.arch')"
if [ "${HUGESPAN_PACK_PREBUILT:-}" = 1 ]; then
  want_tuples="linux-x64 linux-arm64"
else
  npm run --silent prebuildify >/dev/null
  want_tuples="$tuple"
fi

work=$(mktemp -d /tmp/hugespan-pack.XXXXXX)
child=
cleanup() {
  if [ -n "$child" ]; then kill "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "test:pack: FAIL: $*" >&2; exit 1; }

# --- pack (runs `prepare`: dist/ is built fresh) ---
npm pack --silent --pack-destination "$work" >/dev/null
tarball=$(ls "$work"/hugespan-*.tgz)
tar tzf "$tarball" | sed 's#^package/##' | sort > "$work/contents"

# --- what the tarball holds ---
for f in package.json README.md CHANGELOG.md binding.gyp native/addon.cc \
         dist/index.js dist/index.d.ts dist/cli/main.js dist/native/binding.js dist/native/binding.d.ts \
         docs/model.md docs/kernel.md docs/schema.json; do
  grep -qxF "$f" "$work/contents" || fail "the tarball lacks $f"
done
for t in $want_tuples; do
  grep -qE "^prebuilds/$t/hugespan\.glibc\.node$" "$work/contents" || fail "the tarball lacks the $t prebuild (prebuilds/$t/hugespan.glibc.node)"
done
# Every module a user can import has its types next to it.
while read -r js; do
  grep -qxF "${js%.js}.d.ts" "$work/contents" || fail "$js has no ${js%.js}.d.ts"
done < <(grep -E '^dist/.*\.js$' "$work/contents")
# No tests, sources, build leftovers, CI or tooling files.
if grep -nE '^(test|src|build|scripts|node_modules|\.ci|\.github)/|\.map$|\.tgz$|\.log$|\.o$|^tsconfig|^jest\.config|^BENCHMARKS' "$work/contents" >&2; then
  fail "the tarball holds files a user does not need (above)"
fi

# The newest glibc symbol each prebuild needs: the oldest glibc it loads on. CI builds on
# Debian 11 and sets HUGESPAN_PACK_MAX_GLIBC=2.31 so a runner-built binary cannot slip in.
if command -v readelf >/dev/null 2>&1; then
  for f in prebuilds/*/*.node; do
    need=$(readelf --dyn-syms -W "$f" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -1)
    echo "test:pack: $f needs glibc >= ${need:-?}"
    if [ -n "${HUGESPAN_PACK_MAX_GLIBC:-}" ] && [ "$(printf '%s\n%s\n' "$need" "$HUGESPAN_PACK_MAX_GLIBC" | sort -V | tail -1)" != "$HUGESPAN_PACK_MAX_GLIBC" ]; then
      fail "$f needs glibc $need, newer than HUGESPAN_PACK_MAX_GLIBC=$HUGESPAN_PACK_MAX_GLIBC"
    fi
  done
else
  echo "test:pack: skipped the glibc check: readelf is not installed (binutils)"
fi

packed=$(stat -c %s "$tarball")
unpacked=$(tar xzOf "$tarball" | wc -c)
files=$(wc -l < "$work/contents")
# Bounds with room for a few more prebuilds; an accidental build/ or node_modules/ is megabytes.
[ "$packed" -le $((1024 * 1024)) ] || fail "the tarball is $packed bytes, over 1 MiB"
[ "$unpacked" -le $((3 * 1024 * 1024)) ] || fail "the unpacked package is $unpacked bytes, over 3 MiB"
echo "test:pack: $(basename "$tarball"): $packed bytes packed, $unpacked unpacked, $files files; prebuilds: $(grep -E '^prebuilds/.*\.node$' "$work/contents" | tr '\n' ' ')"

# --- a PATH with node, npm, npx and sh only: no cc, c++, g++, gcc, make, python ---
mkdir -p "$work/bin" "$work/app"
for b in node npm npx sh; do ln -s "$(command -v "$b")" "$work/bin/$b"; done
for b in cc c++ gcc g++ make python3 python; do
  if PATH="$work/bin" command -v "$b" >/dev/null 2>&1; then fail "$b is still reachable on the restricted PATH"; fi
done
# A clean environment (nothing from the `npm run` that started us), with the network settings a
# host may need to reach its registry passed through; nodedir points nowhere, hiding the headers.
keep=()
for v in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy NPM_CONFIG_USERCONFIG npm_config_registry npm_config_cache; do
  if [ -n "${!v:-}" ]; then keep+=("$v=${!v}"); fi
done
run() { env -i HOME="$HOME" PATH="$work/bin" "${keep[@]}" npm_config_nodedir="$work/no-headers" "$@"; }

# --- install into an empty directory ---
cd "$work/app"
run npm init -y >/dev/null
start=$(date +%s%N)
run npm install --no-audit --no-fund --loglevel=error "$tarball" > "$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "npm install of the tarball failed without a compiler"; }
ms=$(( ($(date +%s%N) - start) / 1000000 ))
installed="$work/app/node_modules/hugespan"
[ ! -e "$installed/build" ] || fail "the install built the addon from source ($installed/build exists)"
echo "test:pack: installed without a compiler in ${ms} ms"

# --- a child with memory worth reporting, then the CLI against it ---
node -e 'const b = Buffer.alloc(8 << 20, 1); setInterval(() => b[0]++, 1000); console.log("ready")' > "$work/child.out" &
child=$!
for _ in $(seq 100); do grep -q ready "$work/child.out" 2>/dev/null && break; sleep 0.05; done
grep -q ready "$work/child.out" || fail "the target child did not start"

run npx --no-install hugespan report --pid "$child" > "$work/report.txt" 2> "$work/report.err" || { cat "$work/report.err" >&2; fail "npx hugespan report --pid $child failed"; }
grep -q "^pid $child (node)" "$work/report.txt" || { cat "$work/report.txt" >&2; fail "the report does not name pid $child"; }
head -4 "$work/report.txt" | sed 's/^/  | /'
run npx --no-install hugespan report --pid "$child" --json > "$work/report.json" || fail "report --json failed"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (r.kind !== "process" || r.pid !== Number(process.argv[2]) || !(r.totals.anonymous > 0)) throw new Error("unexpected report: " + JSON.stringify(r).slice(0, 200));
' "$work/report.json" "$child" || fail "report --json is not the child's process report"
run npx --no-install hugespan --version | grep -qE '^[0-9]+\.[0-9]+\.[0-9]+' || fail "hugespan --version"

# --- the library, from a plain require, with its addon from prebuilds/ ---
run node -e '
  const h = require("hugespan");
  for (const k of ["Mapping", "readSmaps", "coverage", "hostInfo", "MHeap", "runLab"]) if (typeof h[k] !== "function") throw new Error("hugespan." + k + " is " + typeof h[k]);
  const m = new h.Mapping(4 << 20, { align: "hugepage", commit: true });
  m.touch(); m.unmap();
  const file = require("node-gyp-build").resolve(require("path").dirname(require.resolve("hugespan/package.json")));
  if (!file.includes("/prebuilds/")) throw new Error("the addon came from " + file + ", not prebuilds/");
  console.log("test:pack: require(\"hugespan\") ok; addon " + file.replace(/.*node_modules\//, ""));
' || fail "require('hugespan') failed in the installed package"

echo "test:pack: ok"

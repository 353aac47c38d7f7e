#!/usr/bin/env bash
# npm run traces: record the lab's real workloads again. Each is a benchmark of the Go
# distribution's own packages (code no one here wrote), run by Go 1.23 with
# GODEBUG=traceallocfree=1 and -trace; each trace is converted by hugespan's own reader into
# traces/NAME.spans.gz (the lab's form, with its provenance in the first line) and listed in
# traces/README.md. Needs Go >= 1.23: found on PATH or in /usr/lib/go-1.2x, else installed as
# root from Debian bookworm-backports (golang-1.23); otherwise it stops, saying so.
# Invariant: traces/ changes only when every trace was recorded and converted (written to a
# temporary directory first); nothing runs in the background after it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

find_go() {
  for g in "$(command -v go || true)" /usr/lib/go-1.2[3-9]/bin/go; do
    [ -n "$g" ] && [ -x "$g" ] || continue
    v=$("$g" env GOVERSION 2>/dev/null || true)   # go1.23.5
    minor=$(echo "$v" | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
    [ -n "$minor" ] && [ "$minor" -ge 23 ] && { echo "$g"; return; }
  done
}
go=$(find_go)
if [ -z "$go" ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "traces: no Go >= 1.23 here and not root with apt-get to install golang-1.23 from bookworm-backports" >&2
    exit 1
  fi
  echo "traces: installing golang-1.23 from bookworm-backports"
  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/hugespan-backports.list
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports golang-1.23 >/dev/null
  go=$(find_go)
  [ -n "$go" ] || { echo "traces: golang-1.23 installed but no go >= 1.23 found" >&2; exit 1; }
fi
version=$("$go" env GOVERSION)
echo "traces: $version ($go)"
npm run --silent build

work=$(mktemp -d /tmp/hugespan-traces.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GOCACHE=$work/gocache GOPATH=$work/gopath GOTOOLCHAIN=local GOFLAGS=

# name | package | benchmark | -benchtime
BENCHES=(
  "json-decode|encoding/json|^BenchmarkCodeDecoder\$|200x"
  "go-parser|go/parser|^BenchmarkParse\$|300x"
  "go-types|go/types|^BenchmarkCheck\$|1x"
  "flate-encode|compress/flate|^BenchmarkEncode\$|3x"
  "regexp-match|regexp|^BenchmarkMatch\$|1x"
  "http-client-server|net/http|^BenchmarkClientServer\$|3000x"
)
recorded=$(date -u +%Y-%m-%d)
host="$(uname -sr), $(nproc) CPUs"
{
  echo "# Real Go workloads for \`hugespan lab --go-trace\`"
  echo
  echo "Made by \`npm run traces\` (scripts/traces.sh); each file's first line holds its provenance as JSON."
  echo "Each is one benchmark of the Go distribution's own packages, run by $version with"
  echo "\`GODEBUG=traceallocfree=1 go test -run '^\$' -bench B -benchtime N -trace RAW PKG\`, then read"
  echo "by hugespan's own trace reader into the lab's form (docs/trace.md). Recorded $recorded on $host."
  echo "(\`churn-small.jsonl\` and \`phase-small.jsonl\` are lab recordings for \`--trace\`: docs/trace.md.)"
  echo
  echo "| file | package | benchmark | -benchtime | heap events | allocs | frees | GC cycles | seconds | raw trace |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} > "$work/README.md"
for spec in "${BENCHES[@]}"; do
  IFS='|' read -r name pkg bench times <<< "$spec"
  echo "traces: $name: $pkg $bench -benchtime $times"
  GODEBUG=traceallocfree=1 "$go" test -run '^$' -bench "$bench" -benchtime "$times" -trace "$work/$name.trace" "$pkg" > "$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }
  node scripts/go-trace-convert.js "$work/$name.trace" "$work/$name.spans.gz" \
    "program=go test $pkg -bench $bench -benchtime $times" "go=$version" "godebug=traceallocfree=1" "recorded=$recorded" "host=$host"
  node -e '
    const { loadGoTrace } = require("./dist/lab/go-trace.js");
    const p = loadGoTrace(require("fs").readFileSync(process.argv[1]), process.argv[1]).provenance;
    console.log(`| ${process.argv[2]}.spans.gz | ${process.argv[3]} | \`${process.argv[4]}\` | ${process.argv[5]} | ${p.heapEvents} | ${p.allocs} | ${p.frees} | ${p.gcCycles} | ${p.seconds} | ${(p.rawBytes / 1e6).toFixed(1)} MB |`);
  ' "$work/$name.spans.gz" "$name" "$pkg" "$bench" "$times" >> "$work/README.md"
done
mkdir -p traces
rm -f traces/*.spans.gz
cp "$work"/*.spans.gz "$work/README.md" traces/
echo "traces: written to traces/"

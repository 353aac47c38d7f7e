#!/usr/bin/env bash
# Builds the libFuzzer target over the smaps parser (native/smaps.cc) with ASan + UBSan and
# runs it for ${FUZZ_SECONDS:-60} seconds. Seeds: scripts/fuzz/seeds/ plus this machine's
# /proc/self/smaps and smaps_rollup. Work files (binary, corpus, crash inputs) go to
# ${FUZZ_WORK:-/tmp/hugespan-fuzz}. Exit status: libFuzzer's (non-zero when it found a crash).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${FUZZ_WORK:-/tmp/hugespan-fuzz}
seconds=${FUZZ_SECONDS:-60}
cxx=${FUZZ_CXX:-clang++}

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "run.sh: $cxx not found. libFuzzer needs clang; on Debian/Ubuntu:" >&2
  echo "    apt-get install clang libclang-rt-14-dev   # the -rt package holds libFuzzer" >&2
  echo "(or set FUZZ_CXX to another clang++)." >&2
  exit 2
fi

mkdir -p "$work/corpus" "$work/artifacts"
if ! "$cxx" -std=c++17 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$root/native" "$root/native/smaps.cc" "$here/smaps_fuzz.cc" -o "$work/smaps_fuzz"; then
  echo "run.sh: build failed. If the error is about -fsanitize=fuzzer or libclang_rt.fuzzer," >&2
  echo "the libFuzzer runtime is missing: apt-get install libclang-rt-14-dev (match your clang version)." >&2
  exit 2
fi

cp "$here"/seeds/* "$work/corpus/"
cat /proc/self/smaps >"$work/corpus/proc-self-smaps"
cat /proc/self/smaps_rollup >"$work/corpus/proc-self-smaps_rollup"

# -max_len: room for a whole small process's smaps (cat's is ~25 KB).
exec "$work/smaps_fuzz" "$work/corpus" \
  -max_total_time="$seconds" -max_len=40000 -timeout=10 -rss_limit_mb=2048 \
  -dict="$here/smaps.dict" -artifact_prefix="$work/artifacts/" -print_final_stats=1

#!/usr/bin/env bash
# npm run test:hosts [-- AXIS...]: the whole jest suite as it would run on hosts unlike this one.
#   no-scan      PAGEMAP_SCAN fails with ENOTTY, as on Linux < 6.7 (seccomp filter; checked first)
#   thp-disable  THP off for the process tree (prctl PR_SET_THP_DISABLE), as on a host without THP
#   always       /sys/kernel/mm/transparent_hugepage/enabled = always   (root only)
#   never        /sys/kernel/mm/transparent_hugepage/enabled = never    (root only)
#   user         not root: a copy of the checkout run as uid 65534 (root only, to drop to it)
#   swap         a 512 MiB swap file turned on for the run (root only; skipped where swap is on)
# Default: all six. Each axis must pass with no failed test; an axis that cannot run here is
# skipped with the reason printed. Exit status: non-zero if any axis failed.
# Invariant: the THP `enabled` value is put back as it was, and a swap file this script turned on
# is turned off and deleted, on any exit — success, failure,
# Ctrl-C, SIGTERM — before the script ends; nothing is left running (each axis runs in its own
# process group, killed as a group on a signal).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
thp=/sys/kernel/mm/transparent_hugepage/enabled

axes=("$@")
[ ${#axes[@]} -eq 0 ] && axes=(no-scan thp-disable always never user swap)
for a in "${axes[@]}"; do
  case "$a" in no-scan | thp-disable | always | never | user | swap) ;; *) echo "test:hosts: unknown axis '$a' (no-scan, thp-disable, always, never, user, swap)" >&2; exit 2 ;; esac
done

work=$(mktemp -d /tmp/hugespan-hosts.XXXXXX)
launch=$work/launch
original=""   # THP enabled value to restore, set only once we have changed it
child=""      # pid (= process group) of the running axis
swapfile=""   # a swap file this script turned on, to turn off

restore_thp() {
  if [ -n "$original" ]; then
    if echo "$original" > "$thp"; then
      echo "== restored $thp to '$original'"
    else
      echo "!! could not restore $thp to '$original': do it by hand" >&2
    fi
    original=""
  fi
}
swap_off() {
  if [ -n "$swapfile" ]; then
    swapoff "$swapfile" && echo "== swap file $swapfile turned off" || echo "!! could not swapoff $swapfile: do it by hand" >&2
    rm -f "$swapfile"
    swapfile=""
  fi
}
cleanup() {
  if [ -n "$child" ]; then
    # The whole group: jest, its workers, the processes tests spawned. Give them 5 s to go.
    kill -TERM -- "-$child" 2>/dev/null
    for _ in $(seq 50); do kill -0 -- "-$child" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$child" 2>/dev/null
    wait "$child" 2>/dev/null
    child=""
  fi
  restore_thp
  swap_off
  rm -rf "$work"
}
trap cleanup EXIT
# A signal: stop the axis, restore, and exit with the signal's status (EXIT runs cleanup).
trap 'echo "== interrupted" >&2; exit 130' INT
trap 'echo "== terminated" >&2; exit 143' TERM
trap 'exit 129' HUP

# Job control: each background job gets its own process group, so a signal can end a whole
# jest run (workers and the children tests spawn) by that group's id, and nothing else.
set -m

# Runs "$@" as the axis' process group and waits; `wait` returns at once when a trapped signal
# arrives, where a foreground command would make bash hold the trap until jest ended.
run() {
  "$@" &
  child=$!
  wait "$child"
  local rc=$?
  child=""
  return $rc
}

echo "== host: $(uname -srm), node $(node --version), uid $(id -u)"
echo "== THP enabled: $(cat "$thp" 2>/dev/null || echo absent)"
# Tests' child processes load dist/; build it once for all axes (npm test would per axis).
npm run --silent build || exit 1
cc -O2 -Wall -Wextra -o "$launch" scripts/hosts/launch.c || { echo "test:hosts: cannot compile scripts/hosts/launch.c" >&2; exit 1; }

declare -A passed failed skipped status
suite() { # axis-name, launcher command... (none: this host as configured)
  local name=$1
  shift
  local out=$work/$name.json
  run "$@" node "$root/node_modules/jest/bin/jest.js" --ci --json --outputFile="$out"
  local rc=$?
  if [ -s "$out" ]; then
    read -r p f s < <(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites, r.numPendingTests + r.numTodoTests)' "$out")
  else
    p=0 f=1 s=0 # jest wrote no report: it did not finish
  fi
  passed[$name]=$p failed[$name]=$f skipped[$name]=$s
  if [ $rc -eq 0 ] && [ "$f" -eq 0 ]; then status[$name]=ok; else status[$name]=FAILED; fi
}
skip() { # axis-name, reason
  echo "== skipping axis $1: $2"
  passed[$1]=- failed[$1]=- skipped[$1]=- status[$1]="skipped: $2"
}
fail() { # axis-name, reason
  echo "!! axis $1 failed: $2" >&2
  passed[$1]=- failed[$1]=- skipped[$1]=- status[$1]="FAILED: $2"
}

for axis in "${axes[@]}"; do
  echo
  echo "==================== axis: $axis ===================="
  case "$axis" in
    no-scan)
      echo "== PAGEMAP_SCAN made to fail with ENOTTY (seccomp filter on ioctl 0xc0606610), as on Linux < 6.7"
      if ! "$launch" --no-pagemap-scan true 2>"$work/err"; then
        skip "$axis" "cannot install a seccomp filter here ($(tr '\n' ' ' < "$work/err"))"
        continue
      fi
      # The addon itself must see the ioctl fail with ENOTTY, or this axis tests nothing.
      seen=$("$launch" --no-pagemap-scan node -e '
        const { pagemapScanSupported } = require("./dist/native/coverage");
        const { binding } = require("./dist/native/binding");
        let code = "(no raw pagemapScan)";
        if (typeof binding.pagemapScan === "function") {
          try { binding.pagemapScan("self", 0, 4096); code = "none"; } catch (e) { code = e.code; }
        }
        console.log(`supported=${pagemapScanSupported()} errno=${code}`);' 2>&1)
      echo "== the addon under the filter: $seen"
      case "$seen" in
        "supported=false errno=ENOTTY" | "supported=false errno=(no raw pagemapScan)") suite "$axis" "$launch" --no-pagemap-scan ;;
        *) fail "$axis" "the filter did not take: the addon says '$seen', want supported=false errno=ENOTTY" ;;
      esac
      ;;
    thp-disable)
      echo "== THP off for the process tree (prctl PR_SET_THP_DISABLE)"
      seen=$("$launch" --thp-disable node -e 'console.log(require("./dist/native/host").thpDisabledForSelf())' 2>&1)
      echo "== the addon under the prctl: thpDisabledForSelf() = $seen"
      if [ "$seen" = true ]; then suite "$axis" "$launch" --thp-disable; else fail "$axis" "prctl did not take ($seen)"; fi
      ;;
    user)
      # Without root: no page frame numbers, no CAP_SYS_NICE, no mknod. A copy of the checkout
      # (built, with node_modules) owned by uid 65534, run as it, so nothing here needs root.
      echo "== as uid 65534, from a copy of this checkout"
      if [ "$(id -u)" -ne 0 ] || ! command -v runuser >/dev/null; then skip "$axis" "already not root, or no runuser to drop to uid 65534 (npm test as you is this axis)"; continue; fi
      copy=$work/user-copy
      cp -a "$root" "$copy" && mkdir -p "$work/user-home" && chown -R 65534:65534 "$copy" "$work/user-home" && chmod 755 "$work" || { fail "$axis" "cannot make the copy for uid 65534"; continue; }
      out=$work/user-home/$axis.json   # written by uid 65534
      run runuser -u "$(id -nu 65534)" -- env HOME="$work/user-home" PATH="$PATH" node "$copy/node_modules/jest/bin/jest.js" --ci --rootDir "$copy" --json --outputFile="$out"
      rc=$?
      if [ -s "$out" ]; then
        read -r p f s < <(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
          console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites, r.numPendingTests + r.numTodoTests)' "$out")
      else
        p=0 f=1 s=0
      fi
      passed[$axis]=$p failed[$axis]=$f skipped[$axis]=$s
      if [ $rc -eq 0 ] && [ "$f" -eq 0 ]; then status[$axis]=ok; else status[$axis]=FAILED; fi
      ;;
    swap)
      # Pages can be swapped out: the reasons that turn on swap entries (too-many-swapped) are
      # made and checked; every other test must hold on a host with swap.
      echo "== a swap file turned on for the run"
      if [ "$(id -u)" -ne 0 ]; then skip "$axis" "not root (uid $(id -u)): cannot swapon"; continue; fi
      if [ "$(wc -l < /proc/swaps)" -gt 1 ]; then skip "$axis" "swap is already on here: the default run is this axis"; continue; fi
      f=$work/swapfile
      if ! { fallocate -l 512M "$f" && chmod 600 "$f" && mkswap "$f" >/dev/null; } 2>"$work/err" || ! swapon "$f" 2>>"$work/err"; then
        rm -f "$f"
        skip "$axis" "cannot turn on a swap file here ($(tr '\n' ' ' < "$work/err"))"
        continue
      fi
      swapfile=$f
      echo "== /proc/swaps: $(tail -n +2 /proc/swaps | tr -s ' ')"
      suite "$axis"
      swap_off
      ;;
    always | never)
      echo "== $thp = $axis"
      if [ ! -e "$thp" ]; then skip "$axis" "$thp is absent (no THP in this kernel)"; continue; fi
      if [ "$(id -u)" -ne 0 ]; then skip "$axis" "not root (uid $(id -u)): cannot write $thp; run with sudo -E env PATH=\$PATH"; continue; fi
      if [ ! -w "$thp" ]; then skip "$axis" "$thp is not writable (read-only sysfs?)"; continue; fi
      now=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp")
      if [ -z "$now" ]; then skip "$axis" "cannot tell the current value of $thp ('$(cat "$thp")'), so could not restore it"; continue; fi
      [ -z "$original" ] && original=$now
      if ! echo "$axis" 2>"$work/err" > "$thp"; then
        restore_thp
        skip "$axis" "writing $thp failed ($(tr '\n' ' ' < "$work/err"))"
        continue
      fi
      echo "== $thp now: $(cat "$thp") (was '$original'; restored after this axis and on any exit)"
      if ! grep -q "\[$axis\]" "$thp"; then
        restore_thp
        fail "$axis" "wrote '$axis' but the kernel shows '$(cat "$thp")'"
        continue
      fi
      suite "$axis"
      restore_thp
      ;;
  esac
done

echo
echo "==================== test:hosts summary ===================="
printf '%-12s %7s %7s %8s  %s\n' axis passed failed skipped result
bad=0
for axis in "${axes[@]}"; do
  printf '%-12s %7s %7s %8s  %s\n' "$axis" "${passed[$axis]}" "${failed[$axis]}" "${skipped[$axis]}" "${status[$axis]}"
  case "${status[$axis]}" in FAILED*) bad=1 ;; esac
done
[ $bad -eq 0 ] && echo "test:hosts: every axis that could run passed" || echo "test:hosts: FAILED"
exit $bad

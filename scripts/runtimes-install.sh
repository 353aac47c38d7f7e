#!/usr/bin/env bash
# npm run test:runtimes, step 1: install the runtimes the tests run that are missing, from
# Debian's packages, as root; anything that cannot be installed is left out and its tests skip,
# saying why (test/runtimes/workloads.ts). Never fails the run by itself.
set -u
PKGS=(gcc python3 openjdk-17-jre-headless golang-go libjemalloc2 libgoogle-perftools4)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "runtimes: all of ${PKGS[*]} installed"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "runtimes: not root or no apt-get: cannot install ${missing[*]}; their tests skip with the reason"
  exit 0
fi
echo "runtimes: installing ${missing[*]}"
apt-get update -qq || echo "runtimes: apt-get update failed"
for p in "${missing[@]}"; do
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null || echo "runtimes: could not install $p; its tests skip"
done
exit 0

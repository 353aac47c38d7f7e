#!/usr/bin/env bash
# Installs Debian's/Ubuntu's `prometheus` package (promtool and the server) for the rule tests
# and `npm run test:e2e`. Invariant: leaves no Prometheus service running — package scripts are
# kept from starting one (a policy-rc.d that refuses, for the install only), and a service that
# a systemd host starts anyway is stopped and disabled. Needs root; exits 0 when already there.
set -euo pipefail
if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
  echo "prometheus: already installed ($(prometheus --version 2>&1 | head -1))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-prometheus: needs root (apt-get install prometheus)" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then saved=$(mktemp); cp -p "$policy" "$saved"; fi
restore() {
  if [ -n "$saved" ]; then mv "$saved" "$policy"; else rm -f "$policy"; fi
}
trap restore EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends prometheus
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
echo "prometheus: installed ($(prometheus --version 2>&1 | head -1)); no service left running"

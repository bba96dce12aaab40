#!/usr/bin/env bash
# Installs what nimbus needs to build, run and test, from Debian 12 packages only.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config clang-format \
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
  libssl-dev libsqlite3-dev libzip-dev libcli11-dev libgtest-dev libseccomp-dev libmnl-dev \
  nftables iproute2 \
  python3 python3-pytest python3-boto3 python3-requests awscli \
  curl zip unzip ca-certificates prometheus >/dev/null
# Debian's prometheus package (promtool for `promtool check metrics`, and the server the
# metrics integration test scrapes nimbus with) starts a system service where an init
# system runs: the tests start their own on loopback, so keep that one off.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
fi
# The nodejs20.x runtime runs on the host's node; Debian's package is the fallback.
command -v node >/dev/null || $SUDO apt-get install -y -qq nodejs >/dev/null
echo "install-deps: done"

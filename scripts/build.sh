#!/usr/bin/env bash
# Configures and builds nimbus. Usage: scripts/build.sh [build-dir] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
# The compiled example bootstrap ships in its example folder, ready to deploy.
make -s -C examples/echo-provided-cpp >/dev/null
echo "build: $dir/src/nimbus"

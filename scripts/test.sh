#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to every test: installs packages, builds
# (release, and ASan+UBSan for the unit tests), checks formatting, runs the unit tests
# under ctest and the runtime and integration suites under pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

echo "== clang-format"
files=$(git ls-files 'src/*.cc' 'src/*.h' 'examples/*.cc' 'tests/*.cc')
clang-format --dry-run --Werror $files

echo "== build (release)"
scripts/build.sh build

echo "== unit tests (release)"
ctest --test-dir build --output-on-failure -j 2 --timeout 300

if [ "${NIMBUS_SKIP_ASAN:-0}" != 1 ]; then
  echo "== unit tests (AddressSanitizer + UndefinedBehaviorSanitizer)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DNIMBUS_SANITIZE=ON >/dev/null
  cmake --build build-asan -j "$(nproc)"
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j 2 --timeout 600
fi

if [ "${NIMBUS_SKIP_RIC:-0}" != 1 ]; then
  echo "== AWS's Node.js runtime interface client (third-party Runtime API client)"
  scripts/build-aws-lambda-ric.sh "$PWD/build/ric"
  export NIMBUS_RIC_DIR=$PWD/build/ric
fi

echo "== runtime and integration tests"
export NIMBUS_BIN=$PWD/build/src/nimbus
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/runtimes tests/integration

#!/usr/bin/env bash
# nimbus benchmarks: bench/run.sh [--quick] [--out DIR] [--runs N] [--no-pin] [--phases LIST]
#                                 [--memory-mb MB] [--sandbox auto|on|off]
#
#   --quick        3 runs per figure, 1 s wrk runs (1.5-2.5 minutes); default: 5 runs,
#                  3 s wrk runs, 10 s sustained runs (5-7 minutes)
#   --out DIR      where results.jsonl, results.md, raw.jsonl and nimbus.log go
#                  (default: bench/results/<timestamp>/, git-ignored)
#   --runs N       repetitions per figure (overrides the profile)
#   --no-pin       do not pin the servers and the load generator to separate CPUs
#   --phases LIST  comma-separated subset of cold,memory,throughput,scale,observability,async,
#                  coldstart (observability: warm throughput with records on vs --records off;
#                  async: bench/async_bench.py, coldstart: bench/coldstart_bench.py, cold
#                  starts with and without the sandbox beside bare fork+exec; both run
#                  after the others; default: all of them)
#   --memory-mb MB MemorySize of the benchmark functions (default 1769: one whole CPU's
#                  quota in the sandbox, as in Lambda; 128 shows the CPU-throttled case)
#   --sandbox MODE passed to nimbus serve --sandbox (default: nimbus's own default)
#
# Environment: NIMBUS_BIN (default: build/src/nimbus, else build-bench/src/nimbus, built
# when missing), CXX (default g++). Installs wrk, python3, g++ and the Boost headers from
# Debian when they are missing. See bench/README.md for what each figure means.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
CXX=${CXX:-g++}

out=""
phases=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    --quick|--no-pin) args+=("$1"); shift ;;
    --phases) phases=$2; shift 2 ;;
    --runs|--memory-mb|--sandbox) args+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || out="$BENCH/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
out=$(cd "$out" && pwd)

say() { echo "[bench] $*" >&2; }

# ---- packages (Debian) -------------------------------------------------------------
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ -x /usr/bin/python3 ] || missing+=(python3)
command -v "$CXX" >/dev/null 2>&1 || missing+=(g++)
[ -f /usr/include/boost/beast.hpp ] || missing+=(libboost-dev)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

# ---- nimbus ------------------------------------------------------------------------
if [ -z "${NIMBUS_BIN:-}" ]; then
  if [ -x "$ROOT/build/src/nimbus" ]; then
    NIMBUS_BIN=$ROOT/build/src/nimbus
  else
    NIMBUS_BIN=$ROOT/build-bench/src/nimbus
    if [ ! -x "$NIMBUS_BIN" ]; then
      say "building nimbus in build-bench (RelWithDebInfo)"
      cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DNIMBUS_TESTS=OFF >/dev/null
      cmake --build "$ROOT/build-bench" -j "$(nproc)" --target nimbus >/dev/null
    fi
  fi
fi
[ -x "$NIMBUS_BIN" ] || { echo "bench/run.sh: no nimbus binary at $NIMBUS_BIN" >&2; exit 1; }
say "nimbus: $NIMBUS_BIN"

# ---- the baseline and the function binaries ---------------------------------------
# The echo server takes ~20 s to compile, so it is cached in bench/.build by source hash.
mkdir -p "$BENCH/.build"
src="$BENCH/baseline/echo_server.cc"
hash=$(cat "$src" <(echo "$CXX") | sha256sum | cut -c1-16)
baseline_bin="$BENCH/.build/echo_server-$hash"
if [ ! -x "$baseline_bin" ]; then
  say "compiling the baseline echo server"
  "$CXX" -O2 -std=c++20 -pthread -o "$baseline_bin.tmp" "$src"
  mv "$baseline_bin.tmp" "$baseline_bin"
fi

tmp=$(mktemp -d /tmp/nimbus-bench-bin.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
say "compiling the function bootstraps"
CXX=$CXX "$ROOT/examples/echo-provided-cpp/build.sh" "$tmp/echo-bootstrap" >/dev/null
"$CXX" -O2 -std=c++20 -static-libstdc++ -static-libgcc -o "$tmp/sleep-bootstrap" \
  "$BENCH/functions/provided-sleep/bootstrap.cc"

# The `async` and `coldstart` phases are scripts of their own; the others are bench.py's.
main_phases="" run_async=1 run_coldstart=1
if [ -n "$phases" ]; then
  run_async=0 run_coldstart=0
  IFS=',' read -ra wanted <<< "$phases"
  for p in "${wanted[@]}"; do
    case "$p" in
      async) run_async=1 ;;
      coldstart) run_coldstart=1 ;;
      *) main_phases+="${main_phases:+,}$p" ;;
    esac
  done
fi
if [ -z "$phases" ] || [ -n "$main_phases" ]; then
  /usr/bin/python3 "$BENCH/bench.py" ${args[@]+"${args[@]}"} --out "$out" \
    ${main_phases:+--phases "$main_phases"} \
    --nimbus-bin "$NIMBUS_BIN" --baseline-bin "$baseline_bin" \
    --provided-bootstrap "$tmp/echo-bootstrap" --sleep-bootstrap "$tmp/sleep-bootstrap"
fi
[ "$run_async" = 0 ] || /usr/bin/python3 "$BENCH/async_bench.py" ${args[@]+"${args[@]}"} \
  --out "$out" --nimbus-bin "$NIMBUS_BIN" --provided-bootstrap "$tmp/echo-bootstrap"
[ "$run_coldstart" = 0 ] || /usr/bin/python3 "$BENCH/coldstart_bench.py" \
  ${args[@]+"${args[@]}"} --out "$out" --nimbus-bin "$NIMBUS_BIN" \
  --provided-bootstrap "$tmp/echo-bootstrap"

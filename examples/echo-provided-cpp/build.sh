#!/bin/sh
# Builds the custom-runtime executable: ./build.sh [output]   (default ./bootstrap)
# libstdc++ and libgcc are linked statically, so the result needs only libc.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-"$HERE/bootstrap"}
CXX=${CXX:-g++}
"$CXX" -std=c++17 -O2 -Wall -Wextra -static-libstdc++ -static-libgcc \
  -o "$OUT" "$HERE/bootstrap.cc"
chmod +x "$OUT"
echo "built $OUT"

#!/usr/bin/env bash
# Builds AWS's own Node.js runtime interface client (aws-lambda-ric from the npm
# registry, with its bundled aws-lambda-cpp and curl) into DIR, unmodified, so the
# integration tests can prove that a third-party Runtime API client works against
# nimbus. Usage: scripts/build-aws-lambda-ric.sh DIR
set -euo pipefail
dir=${1:?usage: $0 DIR}
version=3.3.0
if [ -f "$dir/node_modules/aws-lambda-ric/dist/rapid-client.node" ]; then
  echo "aws-lambda-ric: already built in $dir"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  autoconf automake libtool make cmake g++ python3 >/dev/null
# npm comes with the host's node; Debian's npm package only where there is none.
command -v npm >/dev/null ||
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"nimbus-ric-check","private":true}' >package.json
# The package's own install scripts build the native client; run them explicitly
# (newer npm versions skip install scripts unless allowed).
npm install --no-audit --no-fund --ignore-scripts "aws-lambda-ric@$version" >/dev/null
cd node_modules/aws-lambda-ric
./scripts/preinstall.sh >build.log 2>&1 || { tail -30 build.log; exit 1; }
./scripts/postinstall.sh >>build.log 2>&1 || { tail -30 build.log; exit 1; }
echo "aws-lambda-ric $version: built in $dir"

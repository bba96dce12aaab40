#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running nimbus: installs packages,
# builds, starts `nimbus serve` on 127.0.0.1:8080 with the embedded store in ./data,
# deploys the bundled examples, and stays in the foreground (Ctrl-C stops it cleanly).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
NIMBUS=$PWD/build/src/nimbus
export NIMBUS_DATA=${NIMBUS_DATA:-$PWD/data}
LISTEN=${NIMBUS_LISTEN:-127.0.0.1:8080}
export NIMBUS_ENDPOINT="http://$LISTEN"
"$NIMBUS" serve --listen "$LISTEN" --data "$NIMBUS_DATA" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM
for _ in $(seq 100); do
  curl -fsS "$NIMBUS_ENDPOINT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
"$NIMBUS" deploy examples/hello-python --name hello-python --runtime python3.11 --handler app.handler
"$NIMBUS" deploy examples/hello-node --name hello-node --runtime nodejs20.x --handler index.handler
"$NIMBUS" deploy examples/hello-provided --name hello-provided --runtime provided --handler none
"$NIMBUS" deploy examples/echo-provided-cpp --name echo-cpp --runtime provided.al2023 --handler none
echo
echo "nimbus is serving on $NIMBUS_ENDPOINT (credentials in $NIMBUS_DATA/credentials)."
echo "Try: $NIMBUS invoke hello-python --data '{\"name\":\"you\"}'"
wait $server

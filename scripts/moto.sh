#!/usr/bin/env bash
# Starts the moto AWS emulator by hand (the integration tests start their own): installs moto[server] into
# .venv/ when missing, then serves S3, SQS, EventBridge, Glue … on one port.
#   scripts/moto.sh [port]          default port 5000; Ctrl-C stops it
#   curl -X POST http://127.0.0.1:5000/moto-api/reset   clears all state
# Point tools at it with AWS_ENDPOINT_URL=http://127.0.0.1:<port> (any credentials; account 123456789012).
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-5000}"
# Keep in step with MOTO_REQUIREMENT in test/support/integration/moto-server.ts.
requirement='moto[server]>=5.1,<6'
if [[ ! -x .venv/bin/moto_server ]]; then
  python="${PYTHON:-python3}"
  command -v "$python" >/dev/null || { echo "moto.sh: $python not found; install Python 3 with the venv module" >&2; exit 1; }
  echo "installing $requirement into .venv/ …" >&2
  "$python" -m venv .venv
  .venv/bin/pip install --disable-pip-version-check --quiet "$requirement"
fi
exec .venv/bin/moto_server -H 127.0.0.1 -p "$port"
